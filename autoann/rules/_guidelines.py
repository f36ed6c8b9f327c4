"""The guideline catalogue's ids, as the rule loader and ``rules show`` need them.

The catalogue itself is ``shared/guidelines.md`` (beside the checkout, not in
the wheel); this module keeps its ids with a one-line summary so a rule citing
an id that does not exist fails when its file loads, and so ``autoann rules
show`` can say what a cited id means. A test checks the ids match the catalogue.

:data:`ELSEWHERE` records every guideline no rule covers in full: the ones
code implements (the search, the network builder, the engine's parameter
guard), the ones not encoded, each with where or why, and for a guideline some
rule cites, the part the rules leave out. Together with the ``guideline``
lists of the rules it is the coverage table of ``docs/rules.md``,
which :mod:`autoann.rules._docs` writes (``python -m autoann.rules --markdown``).
"""

from __future__ import annotations

GUIDELINES: dict[str, str] = {
    "G-IN-1": "Tabular input width = features after encoding (one-hot or embedding per categorical)",
    "G-IN-2": "Image input shape = height x width x channels; text width from the vectorizer",
    "G-IN-3": "Standardize numeric features; required for SELU",
    "G-IN-4": "Drop identifiers, constants and target leaks (warn on near-perfect predictors)",
    "G-OUT-1": "Regression: 1 linear unit, MSE (MAE/Huber with outliers), metrics MAE/RMSE",
    "G-OUT-2": "Multi-target regression: one output unit per target",
    "G-OUT-3": "Binary: 1 sigmoid unit, binary cross-entropy",
    "G-OUT-4": "Multi-class: N softmax units, (sparse) categorical cross-entropy",
    "G-OUT-5": "Bounded regression outputs: softplus (positive), s*tanh ([-s, s]), s*sigmoid ([0, s])",
    "G-OUT-6": "Bounding boxes: 4 regression outputs (not a v1 task)",
    "G-OUT-7": "Differentiable loss; metrics chosen for evaluation, ideally agreeing with the loss",
    "G-ARCH-1": "One or two hidden layers approximate most functions; depth is more parameter-efficient",
    "G-ARCH-2": "Start with 1-5 hidden layers and up to ~100 neurons, grow until over-fitting",
    "G-ARCH-3": "Prefer adding layers over adding neurons per layer",
    "G-ARCH-4": "Inverted-pyramid widths or equal widths: search both",
    "G-ARCH-5": "Stretch pants: start bigger, let early stopping and dropout size it down",
    "G-ARCH-6": "Compare the parameter count with the number of training samples",
    "G-ARCH-7": "Shallow: even tanh; medium: ReLU family + He; deep: residual + batch norm",
    "G-ARCH-8": "Transfer learning for images and speech",
    "G-ACT-1": "Hidden activations ranked: logistic < tanh < ReLU < leaky ReLU < ELU < SELU",
    "G-ACT-2": "SELU self-normalizes only in a plain dense stack, standardized inputs, LeCun init, alpha dropout",
    "G-ACT-3": "Use ELU when the network cannot self-normalize",
    "G-ACT-4": "Runtime latency matters -> leaky ReLU",
    "G-ACT-5": "ReLU can die; leaky/randomized/parametric ReLU or GELU avoid it",
    "G-INIT-1": "Never initialize all weights equal",
    "G-INIT-2": "Glorot for none/tanh/logistic/softmax",
    "G-INIT-3": "He for ReLU and its variants",
    "G-INIT-4": "LeCun for SELU; He for ELU in autoann",
    "G-INIT-5": "Plain standard-normal init in deep networks makes gradients vanish or explode",
    "G-GRAD-1": "Gradients vanish or explode towards the first layers; sigmoid stacks vanish",
    "G-GRAD-2": "Remedies: non-saturating activations, init, batch norm, residuals, clipping",
    "G-GRAD-3": "Clip by the global norm; the largest threshold that stops explosions",
    "G-GRAD-4": "Stop a trial whose loss is NaN/inf or frozen",
    "G-BN-1": "Batch norm allows larger learning rates and regularizes a little",
    "G-BN-2": "No batch norm for shallow nets, batch norm for deep ones",
    "G-BN-3": "Batch norm before or after the activation: search both",
    "G-BN-4": "Batch norm slows prediction; fold it for low latency",
    "G-BN-5": "Dropout and batch norm interact badly (variance shift)",
    "G-REG-1": "Early stopping: many epochs, stop after `patience`, keep the best weights",
    "G-REG-2": "L2 on weights; L1 for a sparse model; the same regularizer on all layers",
    "G-REG-3": "Dropout 10-50%, often only on the top 1-3 layers, never on the output",
    "G-REG-4": "SELU networks use alpha dropout",
    "G-REG-5": "Monte Carlo dropout for better estimates and uncertainty",
    "G-REG-6": "Max-norm constraint r on incoming weights",
    "G-OPT-1": "Adam or Nadam are forgiving starting points",
    "G-OPT-2": "Nesterov momentum (~0.9, ~0.999 for large data); RMSProp, Adamax as alternatives",
    "G-OPT-3": "Plain SGD when quality of convergence matters more than time",
    "G-OPT-4": "Adagrad-like methods suit sparse features",
    "G-LR-1": "The learning rate is the most important hyperparameter",
    "G-LR-2": "Learning-rate finder: half the rate at which training diverges",
    "G-LR-3": "Schedules; 1cycle is the default, 1cycle and exponential converge fastest",
    "G-LR-4": "Tune at a constant medium rate; add decay last",
    "G-LR-5": "Large batches need a learning-rate warm-up",
    "G-BATCH-1": "Small mini-batches generalize best; scale the choice with data and hardware",
    "G-BATCH-2": "Set many epochs, rely on early stopping",
    "G-HPO-1": "Size, learning rate and schedule, regularization matter most",
    "G-HPO-2": "Random search beats grid search; Hyperband allocates epochs adaptively",
    "G-PROC-1": "A complete pipeline on small data and a small model first",
    "G-PROC-2": "Babysit training: watch train and validation curves",
    "G-PROC-3": "Inspect weights and gradients per layer",
    "G-CNN-1": "Early conv layers wide in space and shallow in filters; double filters after pooling",
    "G-CNN-2": "Max pooling; zero padding; output size formula",
    "G-CNN-3": "Data augmentation",
    "G-CNN-4": "Depthwise-separable convolutions",
    "G-CNN-5": "Residual and Inception blocks for deep CNNs",
    "G-DEF-1": "Default DNN: He, ELU, BN if deep, early stopping, momentum/Nadam, 1cycle",
    "G-DEF-2": "Self-normalizing DNN: LeCun, SELU, no normalization, alpha dropout, 1cycle",
    "G-DEF-3": "Exceptions: sparse -> L1; low latency -> fewer layers, leaky ReLU; uncertainty -> MC dropout",
    "G-DEF-4": "Always normalize input features",
}

#: autoann's own catalogue: guidance shared/guidelines.md lacks, id -> (summary, source). Rules cite these
#: ids like the catalogue's; docs/rules.md lists them with their sources.
AUTOANN_GUIDELINES: dict[str, tuple[str, str]] = {
    "AA-FEAT-DATE": (
        "Encode date/time columns instead of dropping them: calendar parts, periodic ones as sin/cos pairs, and "
        "elapsed time",
        "scikit-learn's 'Time-related feature engineering' example (cyclical sin/cos encoding of hour, weekday, "
        "month); gradient-boosting AutoML systems (AutoGluon's DatetimeFeatureGenerator: year, month, day, "
        "day of week, elapsed time)"),
    "AA-FEAT-TEXT": (
        "Free text and near-unique strings get hashed token features (TF-IDF-like), not one embedding row per "
        "level, which sees about one training row each and memorizes it",
        "Weinberger et al. 2009, 'Feature Hashing for Large Scale Multitask Learning' (ICML); scikit-learn's "
        "HashingVectorizer + TfidfTransformer; fast.ai's embedding-size rule assumes several rows per level"),
    "AA-REG-DROPOUT-REGRESSION": (
        "Regression networks start without dropout: its train/prediction variance shift reaches the output "
        "values directly",
        "Li, Chen, Hu, Yang 2019, 'Understanding the Disharmony between Dropout and Batch Normalization by "
        "Variance Shift' (CVPR); measured in bench/first_candidate.py (load_diabetes R2 0.16 -> 0.31)"),
    "AA-OPT-ADAMW": (
        "On tables, AdamW (decoupled weight decay) as the default optimizer",
        "Loshchilov & Hutter 2019, 'Decoupled Weight Decay Regularization' (ICLR); Holzmueller, Grinsztajn, "
        "Steinwart 2024, 'Better by Default: Strong Pre-Tuned MLPs and Boosted Trees on Tabular Data' "
        "(RealMLP, NeurIPS, arXiv 2407.04491); measured in bench/first_candidate.py"),
    "AA-IN-SMOOTH-CLIP": (
        "Smoothly clip standardized numeric inputs, x / sqrt(1 + (x/3)^2), so outliers cannot saturate the "
        "first layer",
        "Holzmueller, Grinsztajn, Steinwart 2024 (RealMLP, arXiv 2407.04491): robust scaling and smooth clipping"),
    "AA-FEAT-SKEW": (
        "Heavy-tailed inputs and targets: a log-type transform for |skewness| > 1; a positive, skewed regression "
        "target is fitted as log1p(y) and mapped back with expm1",
        "Bulmer 1979, 'Principles of Statistics' (|skewness| > 1: highly skewed); Box & Cox 1964; RealMLP "
        "(Holzmueller, Grinsztajn, Steinwart, NeurIPS 2024, arXiv 2407.04491) tames the same tails with robust "
        "scaling and smooth clipping"),
    "AA-SEARCH-KEEP-DEFAULT": (
        "On a small validation split, keep the strong default configuration unless a tuned one beats it by more "
        "than the split's noise (a paired bootstrap of the validation rows); the best of many trials on one "
        "noisy split is partly the luckiest",
        "Cawley & Talbot 2010, 'On Over-fitting in Model Selection and Subsequent Selection Bias in Performance "
        "Evaluation' (JMLR 11); Efron & Tibshirani 1993, 'An Introduction to the Bootstrap' (paired bootstrap); "
        "measured in bench/peers.py (load_diabetes R2 0.225 -> 0.319, load_iris 0.947 -> 0.974, medians of 3 "
        "seeds at 60 s)"),
}

#: guideline id -> (kind, text). A guideline no rule cites is "code" or "search" (where it is
#: implemented) or "not encoded" (why not); a guideline some rule cites may add a "gap": the part of it
#: the rules leave out. A test keeps the kinds apart.
ELSEWHERE: dict[str, tuple[str, str]] = {
    "G-IN-1": ("code", "autoann.search._preprocessing builds the one-hot / embedding inputs; the profile's input_width fact measures them"),
    "G-IN-2": ("gap", "text-only datasets (documents as the input); text columns of tables are hashed into token "
                      "features (FEAT-TEXT, autoann.layers.HashedText)"),
    "G-IN-4": ("code", "autoann.profiling drops identifiers and constant columns and flags suspected leaks (autoann.profiling._leaks)"),
    "G-OUT-6": ("not encoded", "bounding boxes are not a v1 task"),
    "G-ARCH-6": ("code", "autoann.rules.recommend runs the parameter-count guard (apply_param_guard), which lowers the width "
                 "(then depth) bounds until the largest network fits"),
    "G-ARCH-7": ("gap", "the deep case (8-25 layers, residual + batch norm); dense stacks stop at 5 hidden layers and CNNs at "
                 "8 convolutions, where ReLU-family activations with He/LeCun init suffice"),
    "G-ARCH-8": ("gap", "speech; autoann takes no audio input"),
    "G-INIT-1": ("code", "autoann.space.FAMILIES: every family uses a random initializer, never a constant"),
    "G-INIT-2": ("code", "autoann.space.FAMILIES: tanh -> glorot_uniform"),
    "G-INIT-3": ("code", "autoann.space.FAMILIES: relu, leaky_relu, gelu -> he_normal"),
    "G-INIT-4": ("code", "autoann.space.FAMILIES: selu -> lecun_normal, elu -> he_normal"),
    "G-INIT-5": ("code", "autoann.space.FAMILIES: no family uses a plain standard-normal initializer"),
    "G-GRAD-4": ("search", "autoann.search._callbacks.DivergenceGuard stops a trial on NaN/inf loss; the search records it as failed and goes on"),
    "G-BN-4": ("gap", "folding batch norm into the previous layer after training; the latency goal avoids batch norm instead"),
    "G-BN-5": ("gap", "dense stacks: dropout and batch norm are searched independently (the space grammar cannot make dropout "
               "depth depend on batch_norm and the family at once); a top-layer-only dropout (dropout_layers=1) keeps dropout after the last BN"),
    "G-REG-1": ("search", "every trial fits with EarlyStopping on the validation metric and restore_best_weights (autoann.search)"),
    "G-REG-4": ("code", "autoann.space.FAMILIES: selu -> alpha dropout"),
    "G-OPT-4": ("not encoded", "no profile fact measures input sparsity yet; `--set optimizer=adagrad` is available"),
    "G-LR-2": ("not encoded", "a learning-rate finder per trial costs more budget than it saves at autoann's sizes; "
               "the search samples the rate on a log range instead (OPT-LR-*)"),
    "G-LR-4": ("gap", "the staged process (decay last): Hyperband samples the schedule jointly, with `constant` as one choice"),
    "G-HPO-2": ("search", "autoann.search: Keras Tuner Hyperband (random sampling within brackets) on a wall-clock budget"),
    "G-PROC-1": ("search", "autoann.search trains the space's default network first, to time it; Hyperband's first "
                 "bracket trains many configurations for a few epochs before any long run"),
    "G-PROC-2": ("search", "early stopping watches validation every epoch; the run report plots train and validation curves (autoann.export)"),
    "G-PROC-3": ("not encoded", "per-layer weight and gradient inspection is not implemented; DivergenceGuard catches explosions (G-GRAD-4)"),
    "G-CNN-5": ("not encoded", "residual and Inception blocks matter for deep CNNs; the searched CNNs have at most 8 convolutions "
                "(IMG-FILTERS, known problems)"),
    "G-DEF-3": ("gap", "the 'lower float precision' part of the low-latency exception (an export concern)"),
}


def guideline_summary(gid: str) -> str:
    """The one-line summary of a guideline id, from the shared catalogue or autoann's own ('' if unknown)."""
    own = AUTOANN_GUIDELINES.get(gid)
    return GUIDELINES.get(gid, own[0] if own else "")

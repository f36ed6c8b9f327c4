"""The built-in rule base: one YAML file per concern (see autoann.rulebase).

This top-level folder is installed as the package ``autoann.rules`` (package-dir
in pyproject.toml), so ``importlib.resources.files("autoann.rules")`` finds the
files in a checkout, an editable install and a wheel alike.
"""

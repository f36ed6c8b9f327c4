"""Deprecated alias of :mod:`autoann.predict` (see :mod:`autoann._deprecated`)."""

from autoann._deprecated import alias

alias(__name__)

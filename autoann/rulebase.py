"""Deprecated alias of :mod:`autoann.rules` (see :mod:`autoann._deprecated`)."""

from autoann._deprecated import alias

alias(__name__)

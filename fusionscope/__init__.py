"""The top floor: the ``fusionscope`` command, assembled from each package's own commands.

It sits above ``search_space``, ``trials`` and ``analysis`` so that none of them has to
import another floor's commands (``python -m fusionscope`` runs it).
"""

"""The naming engine: templates that build and parse production paths, safe names, containment.

Standard library only: the Blender extension carries this package and the server imports it from here.
"""

from .defaults import DEFAULT_TEMPLATES, STAGES, default_template_set
from .errors import FieldError, NamingError, PathOutsideRootError, TemplateError
from .paths import is_absolute_path, relative_to_root, resolve_inside, split_relative
from .sanitize import MAX_COMPONENT_BYTES, is_device_name, is_safe_component, safe_component
from .template import ParseResult, Template
from .template_set import TemplateMatch, TemplateSet
from .tree import project_tree_dirs, project_tree_files

__all__ = [
    "DEFAULT_TEMPLATES",
    "MAX_COMPONENT_BYTES",
    "STAGES",
    "FieldError",
    "NamingError",
    "ParseResult",
    "PathOutsideRootError",
    "Template",
    "TemplateError",
    "TemplateMatch",
    "TemplateSet",
    "default_template_set",
    "is_absolute_path",
    "is_device_name",
    "is_safe_component",
    "project_tree_dirs",
    "project_tree_files",
    "relative_to_root",
    "resolve_inside",
    "safe_component",
    "split_relative",
]

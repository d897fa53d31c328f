"""fio job profiles: the job-file model (model), the safety policy (policy), and validation
before a run (validation: the policy, then fio's own parser)."""

from .model import (
    INLINE_SOURCE,
    OVERRIDABLE_OPTIONS,
    Option,
    Profile,
    Section,
    allowed_variables,
    discover_profiles,
    load_profile,
    parse_profile,
    read_profile_text,
    select_profiles,
    shipped_profiles_dir,
)
from .policy import NO_ALLOWANCE, Allowance, check_safety
from .validation import check_files, check_with_fio, validate

__all__ = [
    "INLINE_SOURCE",
    "NO_ALLOWANCE",
    "OVERRIDABLE_OPTIONS",
    "Allowance",
    "Option",
    "Profile",
    "Section",
    "allowed_variables",
    "check_files",
    "check_safety",
    "check_with_fio",
    "discover_profiles",
    "load_profile",
    "parse_profile",
    "read_profile_text",
    "select_profiles",
    "shipped_profiles_dir",
    "validate",
]

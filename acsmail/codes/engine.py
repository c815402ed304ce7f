"""Turn codes, reply text and status into explanations and a failure verdict.

The work is done once per distinct reply, not once per row: :func:`resolve`
takes a frame of distinct keys (status, the two codes, the text, the host, the
domain, ACS's hard-bounce flag) and adds the verdict columns; the caller joins
the result back onto its rows. Every lookup is a join against a small code
table or a vectorised string expression.
"""

from __future__ import annotations

from functools import cache
from typing import Final

import polars as pl

from acsmail.codes import parser, tables

__all__ = [
    "ANY_PROVIDER",
    "KEYS",
    "OUTPUTS",
    "OUTPUT_SCHEMA",
    "resolve",
]

#: The key columns :func:`resolve` reads.
KEYS: Final = (
    "_k_status",
    "_k_smtp",
    "_k_enhanced",
    "_k_text",
    "_k_host",
    "_k_domain",
    "_k_hard",
)

#: The types of the :data:`OUTPUTS` columns.
OUTPUT_SCHEMA: Final = {
    "_o_smtp": pl.String(),
    "_o_enhanced": pl.String(),
    "_o_smtp_details": pl.String(),
    "_o_enhanced_details": pl.String(),
    "_o_category": pl.String(),
    "_o_retryable": pl.Boolean(),
    "_o_classified_by": pl.String(),
    "_o_explanation": pl.String(),
    "_o_provider": pl.String(),
}

#: The provider of rules that hold whoever the recipient's provider is.
ANY_PROVIDER: Final = "any"

#: The columns :func:`resolve` adds.
OUTPUTS: Final = (
    "_o_smtp",
    "_o_enhanced",
    "_o_smtp_details",
    "_o_enhanced_details",
    "_o_category",
    "_o_retryable",
    "_o_classified_by",
    "_o_explanation",
    "_o_provider",
)

_CLASS_WORDS: Final = {
    "2": "Success",
    "3": "In progress",
    "4": "Temporary failure",
    "5": "Permanent failure",
}
_CLASS_PERMANENCE: Final = {"4": "temporary", "5": "permanent"}
_NOT_APPLICABLE_TEXT: Final = (
    "Not applicable: the message was delivered and no code was recorded."
)
_NOT_PROVIDED_TEXT: Final = "Unknown: no code was provided."
_UNCLASSIFIED_TEXT: Final = (
    "Nothing in the codes or the reply text says why the message failed."
)
_HARD_BOUNCE_TEXT: Final = "ACS marked the failure as a hard bounce."
_SOFT_BOUNCE_TEXT: Final = "ACS marked the failure as a soft bounce."
_CODE_ONLY_RULES: Final = ("enhanced-code", "basic-code", "class-fallback")
_COMBINATION: Final = frozenset(
    {*KEYS, "_x_smtp", "_x_enhanced", "_ts_id", "_tw_id", "_pr_hits", "_provider"}
) - {"_k_text", "_k_host", "_k_domain"}


def resolve(keys: pl.LazyFrame, *, extract_from_text: bool) -> pl.LazyFrame:
    """Add the verdict columns (:data:`OUTPUTS`) to a frame of key columns.

    Parameters
    ----------
    keys
        A frame with the :data:`KEYS` columns (and any others, which are kept).
        ``_k_text`` is the reply text, ``_k_hard`` ACS's ``IsHardBounce``.
    extract_from_text
        Fill a missing code from the code found in ``_k_text``.

    Notes
    -----
    Three reductions keep the work small: each distinct text is normalised;
    each distinct normalised text is scanned once (:func:`_signatures`); and
    the keys, with the text replaced by what its scan found, collapse into a
    few combinations, which alone go through the code tables.
    """
    keys = keys.cache()
    texts = keys.select("_k_text").unique().drop_nulls()
    # Only a reply's start is scanned: its codes and telling phrases come
    # first, and a hostile reply of megabytes then costs what a long one does.
    start = pl.col("_k_text").str.slice(0, parser.SCANNED_CHARS)
    texts = texts.with_columns(_k_norm=parser.normalise(start)).cache()
    signatures = _signatures(texts.select(pl.col("_k_norm").unique()))
    texts = texts.join(signatures, on="_k_norm", how="left").drop("_k_norm")
    keys = _providers(keys.join(texts, on="_k_text", how="left"))
    # What a text and a host contribute is now in a few small columns, so keys
    # that differ only in the text (queue ids, addresses) or in the host fall
    # into one combination.
    combination = [c for c in keys.collect_schema().names() if c in _COMBINATION]
    keys = keys.with_columns(_c_hash=pl.struct(combination).hash()).cache()
    combos = keys.select("_c_hash", *combination).unique("_c_hash").cache()
    lf = _codes(combos, extract_from_text=extract_from_text)
    lf = _provider_names(lf)
    lf = _lookups(lf)
    lf = _provider_rule(lf)
    verdicts = _verdict(_details(lf)).select("_c_hash", *OUTPUTS)
    return keys.join(verdicts, on="_c_hash", how="left").drop("_c_hash")


def _signatures(texts: pl.LazyFrame) -> pl.LazyFrame:
    """Parse each distinct text once: its codes, provider hint and rule hits.

    ``_pr_hits`` lists, as numbers joined by commas, the provider rules whose
    pattern the text matches. Rules that share a pattern share its hits.
    """
    patterns = _patterns()

    def group(kind: str) -> pl.DataFrame:
        return patterns.filter(pl.col("kind") == kind)

    def position_to(kind: str, column: str, dtype: pl.DataType) -> pl.Expr:
        mapping = dict(enumerate(group(kind)[column].to_list()))
        return pl.col(kind).replace_strict(mapping, default=None, return_dtype=dtype)

    shared = (
        group("provider-rule")
        .group_by("pattern", maintain_order=True)
        .agg(pl.col("ref").cast(pl.String).str.join(","))
    )
    rule_ids = dict(enumerate(shared["ref"].to_list()))
    scanned = parser.scan(
        texts,
        "_k_norm",
        first=[
            (kind, group(kind)["pattern"].to_list())
            for kind in ("text-strong", "text-weak", "signal")
        ],
        every=[("provider-rule", shared["pattern"].to_list())],
    )
    hits = (
        pl.col("provider-rule")
        .str.split(",")
        .cast(pl.List(pl.UInt32))
        .list.eval(pl.element().replace_strict(rule_ids, return_dtype=pl.String))
        .list.join(",")
    )
    return scanned.select(
        "_k_norm",
        _x_smtp="smtp",
        _x_enhanced="enhanced",
        _ts_id=position_to("text-strong", "ref", pl.UInt32()),
        _tw_id=position_to("text-weak", "ref", pl.UInt32()),
        _text_provider=position_to("signal", "provider", pl.String()),
        _pr_hits=hits,
    )


def _codes(lf: pl.LazyFrame, *, extract_from_text: bool) -> pl.LazyFrame:
    """Fill missing codes from the text and split them into class and subject."""
    outputs = []
    for column, found, out in (
        ("_k_smtp", "_x_smtp", "_o_smtp"),
        ("_k_enhanced", "_x_enhanced", "_o_enhanced"),
    ):
        value = pl.col(column)
        blank = value.is_null() | (value.str.strip_chars() == "")
        filled = pl.when(blank).then(pl.col(found)).otherwise(value)
        outputs.append((filled if extract_from_text else value).alias(out))
    lf = lf.with_columns(outputs)
    enhanced = parser.enhanced_code(pl.col("_o_enhanced"))
    lf = lf.with_columns(
        _smtp=parser.basic_code(pl.col("_o_smtp")),
        _enhanced=enhanced,
    )
    parts = pl.col("_enhanced").str.split_exact(".", 2)
    lf = lf.with_columns(
        _b_class=pl.col("_smtp").str.slice(0, 1),
        _e_class=parts.struct.field("field_0"),
        _e_subject=parts.struct.field("field_1").cast(pl.Int32),
        _e_detail=parts.struct.field("field_2").cast(pl.Int32),
    )
    return lf.with_columns(
        _class=pl.coalesce(
            pl.when(pl.col("_b_class").is_in(["2", "4", "5"])).then("_b_class"),
            "_e_class",
            "_b_class",
        ),
        _e_generic=pl.concat_str(pl.lit("X."), "_e_subject", pl.lit("."), "_e_detail"),
    )


def _providers(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Name the provider: from the host, else the text, else the domain."""
    signals = tables.provider_signals()
    for column, signal, out in (
        ("_k_host", "host", "_host_provider"),
        ("_k_domain", "domain", "_domain_provider"),
    ):
        rows = signals.filter(pl.col("signal") == signal)
        found = parser.first_match(
            pl.col(column), rows["pattern"].to_list(), rows["provider"].to_list()
        )
        distinct = lf.select(column).unique().drop_nulls()
        lf = lf.join(distinct.with_columns(found.alias(out)), on=column, how="left")
    return lf.with_columns(
        _provider=pl.coalesce("_host_provider", "_text_provider", "_domain_provider")
    )


def _provider_names(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the provider's name as explanations print it."""
    names = tables.provider_signals().select("provider", "name").unique("provider")
    return lf.join(
        names.lazy().rename({"provider": "_provider", "name": "_provider_name"}),
        on="_provider",
        how="left",
    )


def _lookups(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Join the code tables: basic, enhanced, their fallbacks, the status."""
    enhanced = tables.enhanced_codes()
    lf = _join_verdict(lf, "_smtp", tables.reply_codes(), "_b")
    lf = _join_verdict(lf, "_enhanced", enhanced, "_ee")
    lf = _join_verdict(lf, "_e_generic", enhanced, "_eg")
    fallbacks = tables.fallbacks()
    lf = lf.with_columns(
        _bf_key=pl.col("_b_class") + "xx",
        _ef_key=pl.col("_e_class") + ".x.x",
        _es_key=pl.concat_str(pl.lit("X."), "_e_subject", pl.lit(".x")),
    )
    for key, prefix in (("_bf_key", "_bf"), ("_ef_key", "_ef"), ("_es_key", "_es")):
        lf = _join_verdict(lf, key, fallbacks, prefix)
    statuses = tables.statuses().rename({"status": "code"})
    lf = _join_verdict(lf, "_k_status", statuses, "_s")
    for prefix in ("_ts", "_tw"):
        rules = _rule_columns(tables.text_rules(), prefix)
        rules = rules.with_columns(pl.col(f"{prefix}_id").cast(pl.UInt32))
        lf = lf.join(rules, on=f"{prefix}_id", how="left")
    return lf.with_columns(
        _e_expl=pl.coalesce("_ee_expl", "_eg_expl"),
        _e_cat=pl.when(pl.col("_ee_expl").is_not_null())
        .then("_ee_cat")
        .otherwise("_eg_cat"),
        _e_retry=pl.when(pl.col("_ee_expl").is_not_null())
        .then("_ee_retry")
        .otherwise("_eg_retry"),
    )


def _join_verdict(
    lf: pl.LazyFrame, key: str, table: pl.DataFrame, prefix: str
) -> pl.LazyFrame:
    """Left-join one code table on ``key``, its columns renamed with ``prefix``."""
    right = table.select(
        pl.col("code").alias(key),
        pl.col("explanation").alias(f"{prefix}_expl"),
        pl.col("category").alias(f"{prefix}_cat"),
        pl.col("retryable").alias(f"{prefix}_retry"),
    )
    return lf.join(right.lazy(), on=key, how="left")


def _provider_rule(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Pick the provider rule for each row: by pattern first, then by code alone."""
    dims = ("_provider", "_smtp", "_enhanced")
    rules = tables.provider_rules().lazy()
    dim_frame = lf.select(*dims, "_e_class", "_e_subject", "_e_detail").unique()
    anyone = pl.col("provider") == ANY_PROVIDER
    own = dim_frame.drop_nulls("_provider").join(
        rules.filter(~anyone), left_on="_provider", right_on="provider"
    )
    shared = dim_frame.join(rules.filter(anyone).drop("provider"), how="cross")
    candidates = (
        pl.concat(
            [
                own.with_columns(_any=pl.lit(False)),
                shared.with_columns(_any=pl.lit(True)),
            ]
        )
        .filter(
            ((pl.col("smtp_code") == "") | (pl.col("smtp_code") == pl.col("_smtp")))
            & (
                (pl.col("enhanced_code") == "")
                | (pl.col("enhanced_class") == pl.col("_e_class"))
                & (pl.col("enhanced_subject") == pl.col("_e_subject"))
                & pl.col("_e_detail").is_between("detail_low", "detail_high")
            )
        )
        .select(*dims, "rule_id", "_any", has_pattern=pl.col("pattern") != "")
    )
    # The recipient's own provider first, then rules that hold for anyone;
    # within each, the order of the file.
    first_rule = pl.col("rule_id").sort_by("_any", "rule_id").first()
    by_code = (
        candidates.filter(~pl.col("has_pattern"))
        .group_by(dims)
        .agg(_pr_code=first_rule)
    )
    hits = pl.col("_pr_hits").str.split(",").cast(pl.List(pl.UInt32))
    by_pattern = (
        lf.select(*dims, "_pr_hits")
        .drop_nulls("_pr_hits")
        .filter(pl.col("_pr_hits") != "")
        .unique()
        .with_columns(_pr_hit=hits)
        .explode("_pr_hit")
        .join(
            candidates.filter("has_pattern"),
            left_on=[*dims, "_pr_hit"],
            right_on=[*dims, "rule_id"],
            nulls_equal=True,
        )
        .group_by(*dims, "_pr_hits")
        .agg(_pr_pattern=pl.col("_pr_hit").sort_by("_any", "_pr_hit").first())
    )
    lf = lf.join(by_code, on=dims, how="left", nulls_equal=True)
    lf = lf.join(by_pattern, on=[*dims, "_pr_hits"], how="left", nulls_equal=True)
    chosen = _rule_columns(tables.provider_rules(), "_pr").with_columns(
        _pr_on=pl.when(pl.col("enhanced_code") != "")
        .then(pl.lit("enhanced"))
        .when(pl.col("smtp_code") != "")
        .then(pl.lit("smtp"))
        .otherwise(pl.lit("text"))
    )
    lf = lf.with_columns(_pr_id=pl.coalesce("_pr_pattern", "_pr_code"))
    # A rule that holds for anyone is not the provider's own word.
    chosen = chosen.select(
        pl.exclude("enhanced_code", "smtp_code", "provider"),
        _pr_own=pl.col("provider") != ANY_PROVIDER,
    )
    return lf.join(chosen, on="_pr_id", how="left")


def _rule_columns(table: pl.DataFrame, prefix: str) -> pl.LazyFrame:
    """Select a rule table's id and verdict under prefixed names."""
    extra = [
        c for c in ("enhanced_code", "smtp_code", "provider") if c in table.columns
    ]
    return table.lazy().select(
        pl.col("rule_id").alias(f"{prefix}_id"),
        pl.col("explanation").alias(f"{prefix}_expl"),
        pl.col("category").alias(f"{prefix}_cat"),
        pl.col("retryable").alias(f"{prefix}_retry"),
        *extra,
    )


def _phrase(
    class_digit: pl.Expr, explanation: pl.Expr, provider: pl.Expr | None = None
) -> pl.Expr:
    """Return ``Permanent failure (Gmail): the ...`` from a class and a text."""
    words = class_digit.replace_strict(_CLASS_WORDS, default=None)
    if provider is not None:
        words = pl.concat_str(words, pl.lit(" ("), provider, pl.lit(")"))
        words = pl.coalesce(
            words, class_digit.replace_strict(_CLASS_WORDS, default=None)
        )
    text = pl.concat_str([words, explanation], separator=": ", ignore_nulls=True)
    return text.str.slice(0, 1).str.to_uppercase() + text.str.slice(1) + "."


def _details(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Explain each code: provider meaning, else the table, else the fallback."""
    provider_name = pl.when("_pr_own").then("_provider_name")
    on = pl.col("_pr_on")
    smtp_known = pl.coalesce(
        pl.when(on == "smtp").then(
            _phrase(pl.col("_b_class"), pl.col("_pr_expl"), provider_name)
        ),
        _phrase(pl.col("_b_class"), pl.coalesce("_b_expl", "_bf_expl")),
    )
    enhanced_known = pl.coalesce(
        pl.when(on == "enhanced").then(
            _phrase(pl.col("_e_class"), pl.col("_pr_expl"), provider_name)
        ),
        _phrase(pl.col("_e_class"), pl.coalesce("_e_expl", "_es_expl", "_ef_expl")),
    )
    disagree = (
        pl.col("_b_class").is_in(["4", "5"])
        & pl.col("_e_class").is_in(["4", "5"])
        & (pl.col("_b_class") != pl.col("_e_class"))
    )
    note = pl.concat_str(
        pl.lit(" The basic code "),
        "_smtp",
        pl.lit(" says the failure is "),
        pl.col("_b_class").replace_strict(_CLASS_PERMANENCE, default=None),
        pl.lit(", and acsmail goes by the basic code."),
    )
    enhanced_known = (
        pl.when(disagree).then(enhanced_known + note).otherwise(enhanced_known)
    )
    return lf.with_columns(
        _o_smtp_details=_code_details("_o_smtp", "_smtp", smtp_known, "reply code"),
        _o_enhanced_details=_code_details(
            "_o_enhanced", "_enhanced", enhanced_known, "enhanced status code"
        ),
    )


def _code_details(raw: str, valid: str, known: pl.Expr, what: str) -> pl.Expr:
    """Return the explanation of one code column, handling the special values."""
    value = pl.col(raw).str.strip_chars()
    unrecognised = pl.concat_str(
        pl.lit(f"Unknown: {what} '"), value, pl.lit("' is not in a form acsmail knows.")
    )
    return (
        pl.when(value == parser.NOT_APPLICABLE)
        .then(pl.lit(_NOT_APPLICABLE_TEXT))
        .when(value.is_null() | (value == ""))
        .then(pl.lit(_NOT_PROVIDED_TEXT))
        .when(pl.col(valid).is_null())
        .then(unrecognised)
        .otherwise(known)
    )


def _verdict(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Decide category, retryable and the deciding rule (see the package docs)."""
    klass = pl.col("_class")
    provider_name = pl.when("_pr_own").then("_provider_name")
    # Codes that say "other" within their subject, and X.7.1, which servers
    # use for every kind of refusal, yield to weak text patterns.
    detail = pl.col("_e_detail")
    catch_all = (detail == 0) | (pl.col("_e_subject") == 7) & (detail == 1)
    candidates: list[tuple[str, pl.Expr, pl.Expr, pl.Expr]] = [
        (
            "status",
            pl.col("_s_cat"),
            pl.col("_s_retry"),
            _phrase(pl.lit(None, pl.String), pl.col("_s_expl")),
        ),
        (
            "provider-rule",
            pl.col("_pr_cat"),
            pl.col("_pr_retry"),
            _phrase(klass, pl.col("_pr_expl"), provider_name),
        ),
        (
            "text-pattern",
            pl.col("_ts_cat"),
            pl.col("_ts_retry"),
            _phrase(klass, pl.col("_ts_expl")),
        ),
        (
            "enhanced-code",
            pl.when(~catch_all).then("_e_cat"),
            pl.col("_e_retry"),
            pl.col("_o_enhanced_details"),
        ),
        (
            "text-pattern",
            pl.col("_tw_cat"),
            pl.col("_tw_retry"),
            _phrase(klass, pl.col("_tw_expl")),
        ),
        (
            "enhanced-code",
            pl.col("_e_cat"),
            pl.col("_e_retry"),
            pl.col("_o_enhanced_details"),
        ),
        (
            "class-fallback",
            pl.col("_es_cat"),
            pl.col("_es_retry"),
            pl.col("_o_enhanced_details"),
        ),
        ("basic-code", pl.col("_b_cat"), pl.col("_b_retry"), pl.col("_o_smtp_details")),
    ]
    hard = pl.col("_k_hard")
    by_class = klass.replace_strict(
        {"4": True, "5": False}, default=None, return_dtype=pl.Boolean
    )
    class_text = pl.coalesce(
        pl.when(pl.col("_enhanced").is_not_null()).then("_o_enhanced_details"),
        "_o_smtp_details",
    )
    tail: list[tuple[pl.Expr, str, pl.Expr, pl.Expr, pl.Expr]] = [
        (
            klass.is_in(["4", "5"]),
            "class-fallback",
            pl.lit("unknown"),
            by_class,
            class_text,
        ),
        (
            hard.is_not_null(),
            "acs-is-hard-bounce",
            pl.lit("unknown"),
            ~hard,
            pl.when(hard)
            .then(pl.lit(_HARD_BOUNCE_TEXT))
            .otherwise(pl.lit(_SOFT_BOUNCE_TEXT)),
        ),
    ]
    chain = [
        (cat.is_not_null() & (cat != "unknown"), by, cat, retry, text)
        for by, cat, retry, text in candidates
    ] + tail
    by_expr: pl.Expr = pl.lit("status")
    cat_expr: pl.Expr = pl.lit("unknown")
    retry_expr: pl.Expr = pl.lit(None, pl.Boolean)
    text_expr: pl.Expr = pl.lit(_UNCLASSIFIED_TEXT)
    for condition, by, cat, retry, text in reversed(chain):
        by_expr = pl.when(condition).then(pl.lit(by)).otherwise(by_expr)
        cat_expr = pl.when(condition).then(cat).otherwise(cat_expr)
        retry_expr = pl.when(condition).then(retry).otherwise(retry_expr)
        text_expr = pl.when(condition).then(text).otherwise(text_expr)
    lf = lf.with_columns(_by=by_expr, _cat=cat_expr, _retry=retry_expr, _text=text_expr)
    temporary = (klass == "4") & (pl.col("_by") != "status")
    retry = pl.when(temporary).then(True).otherwise("_retry")
    overruled = (
        hard.fill_null(False)
        & retry.fill_null(False)
        & ~temporary
        & pl.col("_by").is_in(_CODE_ONLY_RULES)
    )
    failed = pl.col("_k_status").is_not_null() & (pl.col("_k_status") != "Delivered")
    return lf.with_columns(
        _o_category=pl.when(failed).then("_cat"),
        _o_retryable=pl.when(failed).then(
            pl.when(overruled).then(False).otherwise(retry)
        ),
        _o_classified_by=pl.when(failed).then(
            pl.when(overruled).then(pl.lit("acs-is-hard-bounce")).otherwise("_by")
        ),
        _o_explanation=pl.when(overruled)
        .then(pl.concat_str("_text", pl.lit(" "), pl.lit(_HARD_BOUNCE_TEXT)))
        .otherwise("_text"),
        _o_provider=pl.col("_provider"),
    )


@cache
def _patterns() -> pl.DataFrame:
    """Every pattern matched against reply text, most specific first.

    Columns: ``pattern``, ``kind`` (``provider-rule``, ``text-strong``,
    ``text-weak`` or ``signal``), ``ref`` (the rule's id in its table) and
    ``provider`` (for signals).
    """
    none = pl.lit(None, pl.String)
    rules = tables.provider_rules().filter(pl.col("pattern") != "")
    text = tables.text_rules()
    signals = tables.provider_signals().filter(pl.col("signal") == "text")
    frames = [
        rules.select(
            "pattern", kind=pl.lit("provider-rule"), ref="rule_id", provider=none
        ),
        text.select(
            "pattern",
            kind=pl.lit("text-") + pl.col("strength"),
            ref="rule_id",
            provider=none,
        ),
        signals.select(
            "pattern", kind=pl.lit("signal"), ref="rule_id", provider="provider"
        ),
    ]
    return pl.concat(frames)

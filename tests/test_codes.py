from __future__ import annotations

import csv
import itertools
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from acsmail.codes import (
    CATEGORIES,
    CLASSIFIERS,
    _key_hash,
    _keys,
    classify,
    explain,
    parser,
    tables,
)
from acsmail.errors import AcsmailError

REPLIES = Path(__file__).parent / "data" / "replies.csv"

# Every X.Y.Z entry of the IANA "SMTP Enhanced Status Codes" registry, written
# out here from the registry itself, not read from the package's data file.
IANA_ENHANCED = [
    "X.0.0",
    *(f"X.1.{n}" for n in range(11)),
    *(f"X.2.{n}" for n in range(5)),
    *(f"X.3.{n}" for n in range(7)),
    *(f"X.4.{n}" for n in range(8)),
    *(f"X.5.{n}" for n in range(7)),
    *(f"X.6.{n}" for n in range(11)),
    *(f"X.7.{n}" for n in range(31)),
]

# RFC 5321's reply codes, then the extension replies (RFC 1985, 2645, 4954,
# 5248, 7504) that real servers send.
RFC5321_REPLIES = [
    "211", "214", "220", "221", "250", "251", "252", "354", "421", "450",
    "451", "452", "455", "500", "501", "502", "503", "504", "550", "551",
    "552", "553", "554", "555",
]  # fmt: skip
EXTENSION_REPLIES = [
    "235", "253", "334", "432", "453", "454", "458", "459", "521", "523",
    "525", "530", "534", "535", "538", "556",
]  # fmt: skip

# Codes the reference KQL query explains; these must keep their meaning.
KQL_BASIC = ["421", "450", "451", "452", "500", "501", "502", "503", "504"]
KQL_BASIC += ["550", "551", "552", "553", "554"]
KQL_ENHANCED = ["4.4.1", "4.7.1", "5.1.0", "5.1.1", "5.2.1", "5.2.2", "5.4.1"]
KQL_ENHANCED += ["5.7.1"]


def _deliveries(**columns: list[object]) -> pl.LazyFrame:
    """Return delivery rows with every column classify reads, nulls by default."""
    height = len(next(iter(columns.values())))
    schema = {
        "FinalDeliveryStatus": pl.String,
        "SmtpStatusCode": pl.String,
        "EnhancedSmtpStatusCode": pl.String,
        "FailureReason": pl.String,
        "FailureMessage": pl.String,
        "RecipientMailServerHostName": pl.String,
        "RecipientDomain": pl.String,
        "IsHardBounce": pl.Boolean,
    }
    data = {name: columns.get(name, [None] * height) for name in schema}
    return pl.LazyFrame(data, schema=schema)


def _one(reply: str, host: str | None = None) -> dict[str, object]:
    return explain([reply], host=host).row(0, named=True)


# --- the tables -------------------------------------------------------------


def test_tables_cover_every_iana_registry_entry() -> None:
    codes = set(tables.enhanced_codes()["code"])

    missing = [code for code in IANA_ENHANCED if code not in codes]

    assert missing == []


def test_tables_cover_every_rfc5321_and_extension_reply_code() -> None:
    codes = set(tables.reply_codes()["code"])

    missing = [c for c in RFC5321_REPLIES + EXTENSION_REPLIES if c not in codes]

    assert missing == []


def test_tables_fall_back_by_class_and_by_subject() -> None:
    codes = set(tables.fallbacks()["code"])

    expected = {"2xx", "3xx", "4xx", "5xx", "2.x.x", "4.x.x", "5.x.x"}
    expected |= {f"X.{subject}.x" for subject in range(8)}

    assert expected <= codes


def test_tables_every_row_names_a_source_and_a_known_category() -> None:
    for table in (
        tables.reply_codes(),
        tables.enhanced_codes(),
        tables.fallbacks(),
        tables.provider_rules(),
        tables.text_rules(),
        tables.statuses(),
    ):
        assert (table["source"] != "").all()
        assert table["category"].drop_nulls().is_in(CATEGORIES).all()


def test_tables_hold_at_least_150_provider_rows() -> None:
    rules = tables.provider_rules()

    providers = set(rules["provider"])

    assert rules.height >= 150
    assert {"microsoft", "google", "yahoo", "apple", "mimecast", "any"} <= providers


def test_tables_every_failure_row_has_a_verdict() -> None:
    # A row with a category is a failure and must say whether to retry.
    for table in (tables.reply_codes(), tables.enhanced_codes(), tables.fallbacks()):
        failures = table.filter(pl.col("category").is_not_null())
        assert failures["retryable"].null_count() == 0


def test_tables_are_loaded_once() -> None:
    assert tables.provider_rules() is tables.provider_rules()


def test_tables_reject_an_unknown_category() -> None:
    bad = pl.DataFrame(
        {
            "code": ["5.9.9"],
            "explanation": ["x"],
            "category": ["weather"],
            "retryable": ["false"],
            "source": ["RFC 3463"],
        }
    )

    with pytest.raises(AcsmailError, match="line 2"):
        tables._check_verdicts(bad, "enhanced_codes.csv")


# --- the parser ---------------------------------------------------------------


def _codes(texts: list[str]) -> list[tuple[str | None, str | None]]:
    df = pl.DataFrame({"t": texts}).select(
        smtp=parser.extract_basic_code(pl.col("t")),
        enhanced=parser.extract_enhanced_code(pl.col("t")),
    )
    return list(df.iter_rows())


def test_parser_takes_the_first_line_of_a_multi_line_reply() -> None:
    reply = "550-5.1.1 The account\n550-5.1.1 does not exist\n550 5.1.1 gsmtp"

    assert _codes([reply]) == [("550", "5.1.1")]


def test_parser_reads_exchange_hash_codes() -> None:
    assert _codes(["#5.1.0 smtp;550 5.1.0 Sender denied"]) == [("550", "5.1.0")]
    assert _codes(["550 #5.1.0 Address rejected."]) == [("550", "5.1.0")]


def test_parser_reads_a_reply_without_an_enhanced_code() -> None:
    assert _codes(["421 Try again later"]) == [("421", None)]


def test_parser_reads_an_enhanced_code_without_a_basic_code() -> None:
    assert _codes(["5.7.708 Access denied, traffic not accepted"]) == [
        (None, "5.7.708")
    ]


def test_parser_keeps_both_classes_when_they_disagree() -> None:
    assert _codes(["550 4.4.7 Message expired"]) == [("550", "4.4.7")]


def test_parser_ignores_ip_addresses_and_version_numbers() -> None:
    texts = ["from 10.5.1.2 refused", "agent v5.1.1 ready", "ok"]

    assert _codes(texts) == [(None, None), (None, None), (None, None)]


@settings(max_examples=40, deadline=None)
@given(
    basic=st.sampled_from(["421", "450", "550", "552", "554"]),
    klass=st.sampled_from(["4", "5"]),
    subject=st.integers(0, 7),
    detail=st.integers(0, 999),
    separator=st.sampled_from([" ", "-", " #"]),
)
def test_parser_finds_any_code_pair(
    basic: str, klass: str, subject: int, detail: int, separator: str
) -> None:
    enhanced = f"{klass}.{subject}.{detail}"
    text = f"smtp;{basic}{separator}{enhanced} something went wrong"

    assert _codes([text]) == [(basic, enhanced)]


def test_parser_normalise_keeps_codes_and_hosts() -> None:
    text = "550 5.1.1 <jo@example.com> [192.0.2.1] d75a77b69052e-4b0aa9 - gsmtp"

    normalised = pl.select(parser.normalise(pl.lit(text))).item()

    assert normalised == "550 5.1.1 <<x>example.com> [<x>] <x> - gsmtp"


# --- explain ------------------------------------------------------------------


def test_explain_returns_one_row_per_input_in_order() -> None:
    df = explain(["5.7.1", "550", "5.7.1"])

    assert df.columns == [
        "input",
        "smtp_code",
        "enhanced_code",
        "provider",
        "explanation",
        "category",
        "retryable",
        "classified_by",
    ]
    assert df["input"].to_list() == ["5.7.1", "550", "5.7.1"]
    assert df["enhanced_code"].to_list() == ["5.7.1", None, "5.7.1"]
    assert df["smtp_code"].to_list() == [None, "550", None]


def test_explain_a_success_code_reports_no_failure() -> None:
    # 250 and 2.x.x are success; 250 beside a 5.x.x code is still a failure.
    df = explain(["250 2.0.0 OK", "2.6.0", "250 5.1.1 odd"])

    rows = df.select("explanation", "category", "retryable", "classified_by").rows()
    assert [row[0].startswith("Success:") for row in rows] == [True, True, False]
    assert rows[0][1:] == (None, None, "success-code")
    assert rows[1][1:] == (None, None, "success-code")
    assert rows[2][1] == "bad-mailbox"


def test_explain_gmail_4_7_23_is_a_missing_ptr_record_not_spf() -> None:
    row = _one("421 4.7.23 [192.0.2.1] rate limited", host="mx.google.com")

    assert row["provider"] == "google"
    assert row["category"] == "authentication"
    assert row["retryable"] is True
    assert row["classified_by"] == "provider-rule"
    explanation = str(row["explanation"])
    assert "PTR" in explanation
    assert "not the registry's SPF meaning" in explanation


def test_explain_4_7_23_elsewhere_keeps_the_registry_spf_meaning() -> None:
    row = _one("421 4.7.23 check failed", host="mx.example.com")

    assert row["provider"] is None
    assert "SPF" in str(row["explanation"])
    assert row["classified_by"] == "enhanced-code"


def test_explain_microsoft_5_2_2_with_quota_text_is_a_rate_limit() -> None:
    reply = "550 5.2.2 Submission quota exceeded, the sender sent too many messages"

    row = _one(reply, host="contoso-com.mail.protection.outlook.com")

    assert row["provider"] == "microsoft"
    assert row["category"] == "rate-limit"
    assert row["retryable"] is True
    assert row["classified_by"] == "provider-rule"


def test_explain_plain_5_2_2_is_a_full_mailbox() -> None:
    row = _one("5.2.2")

    assert row["category"] == "mailbox-full"
    assert row["retryable"] is True
    assert row["classified_by"] == "enhanced-code"


def test_explain_text_overrides_a_generic_code() -> None:
    row = _one("550 5.1.1 user has sent to too many recipients this hour")

    assert row["category"] == "rate-limit"
    assert row["retryable"] is True
    assert row["classified_by"] == "text-pattern"


def test_explain_reads_a_reply_no_further_than_its_start() -> None:
    # A reply padded past the scanned length: its start still classifies it,
    # and a phrase beyond the limit is not read.
    padding = "5." * parser.SCANNED_CHARS
    padded = _one(f"550 5.1.1 user unknown {padding}")
    late = _one(f"550 5.1.1 user unknown {padding} too many recipients this hour")

    assert padded["category"] == late["category"] == "bad-mailbox"
    assert late["retryable"] is False


def test_explain_the_basic_class_decides_permanence() -> None:
    expired = _one("550 4.4.7 Message expired")
    deferred = _one("450 5.1.1 User unknown, try later")

    assert (expired["category"], expired["retryable"]) == ("routing", False)
    assert "basic code 550 says the failure is permanent" in str(expired["explanation"])
    assert deferred["retryable"] is True


def test_explain_vendor_code_falls_back_to_its_subject() -> None:
    row = _one("5.7.999 see our rules engine", host="mx.example.com")

    assert row["category"] == "policy"
    assert row["retryable"] is False
    assert row["classified_by"] == "class-fallback"


def test_explain_microsoft_5_7_708_is_a_tenant_reputation_block() -> None:
    row = _one("550 5.7.708 Access denied", host="x.mail.protection.outlook.com")

    assert (row["category"], row["retryable"]) == ("reputation", False)
    assert row["classified_by"] == "provider-rule"


def test_explain_unknown_basic_code_falls_back_to_its_class() -> None:
    row = _one("471 something odd")

    assert (row["category"], row["retryable"]) == ("unknown", True)
    assert row["classified_by"] == "class-fallback"


def test_explain_says_so_when_nothing_is_known() -> None:
    row = _one("hello")

    assert (row["category"], row["retryable"]) == ("unknown", None)
    assert row["classified_by"] == "status"


def test_explain_covers_the_codes_of_the_reference_query() -> None:
    df = explain(KQL_BASIC + KQL_ENHANCED)

    assert df["category"].is_in(CATEGORIES).all()
    assert (df["category"] != "unknown").all()
    assert df["classified_by"].is_in(["basic-code", "enhanced-code"]).all()


# --- the corpus of real replies -----------------------------------------------


@cache
def _corpus() -> list[dict[str, str]]:
    with REPLIES.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


@cache
def _explained(host: str) -> dict[str, dict[str, object]]:
    # One explain call per host keeps the corpus test fast.
    replies = [row["reply"] for row in _corpus() if row["host"] == host]
    df = explain(replies, host=host or None)
    return {row["input"]: row for row in df.iter_rows(named=True)}


def test_replies_corpus_is_large_enough() -> None:
    assert len(_corpus()) >= 60


@pytest.mark.parametrize("index", range(len(_corpus())))
def test_replies_corpus_is_classified_as_worked_out_by_hand(index: int) -> None:
    case = _corpus()[index]

    row = _explained(case["host"])[case["reply"]]

    expected = {
        "smtp_code": case["smtp_code"] or None,
        "enhanced_code": case["enhanced_code"] or None,
        "provider": case["provider"] or None,
        "category": case["category"],
        "retryable": case["retryable"] == "true",
    }
    assert {key: row[key] for key in expected} == expected, case["source"]


# --- classify -----------------------------------------------------------------


def test_classify_keeps_columns_and_adds_details_and_verdicts() -> None:
    lf = _deliveries(FinalDeliveryStatus=["Delivered"]).select(
        pl.lit("m1").alias("MessageId"), pl.all(), pl.lit(date(2026, 1, 1)).alias("Day")
    )

    out = classify(lf).collect()

    assert out.columns == [
        "MessageId",
        "FinalDeliveryStatus",
        "SmtpStatusCode",
        "SmtpStatusCodeDetails",
        "EnhancedSmtpStatusCode",
        "EnhancedSmtpStatusCodeDetails",
        "FailureReason",
        "FailureMessage",
        "RecipientMailServerHostName",
        "RecipientDomain",
        "IsHardBounce",
        "Day",
        "FailureCategory",
        "Retryable",
        "ClassifiedBy",
    ]
    assert out["Day"].to_list() == [date(2026, 1, 1)]


def test_classify_gives_hand_computed_verdicts() -> None:
    lf = _deliveries(
        FinalDeliveryStatus=[
            "Delivered",
            None,
            "Suppressed",
            "Bounced",
            "Failed",
            "Quarantined",
            "Bounced",
            "Failed",
        ],
        SmtpStatusCode=[
            "<not applicable>",
            None,
            None,
            "",
            "550",
            None,
            "552",
            "421",
        ],
        EnhancedSmtpStatusCode=[
            "<not applicable>",
            None,
            None,
            None,
            "5.7.708",
            None,
            "5.2.2",
            None,
        ],
        FailureMessage=[
            None,
            None,
            None,
            "550 5.1.1 The email account that you tried to reach does not exist",
            None,
            None,
            None,
            None,
        ],
        RecipientMailServerHostName=[
            "mx.a.example",
            None,
            None,
            "gmail-smtp-in.l.google.com",
            "contoso-com.mail.protection.outlook.com",
            None,
            "mx.b.example",
            "mx.c.example",
        ],
        IsHardBounce=[None, None, None, True, False, None, True, None],
    )

    out = classify(lf).collect()

    expected = pl.DataFrame(
        {
            "SmtpStatusCode": [
                "<not applicable>",
                None,
                None,
                "550",
                "550",
                None,
                "552",
                "421",
            ],
            "EnhancedSmtpStatusCode": [
                "<not applicable>",
                None,
                None,
                "5.1.1",
                "5.7.708",
                None,
                "5.2.2",
                None,
            ],
            "FailureCategory": [
                None,
                None,
                "suppressed",
                "bad-mailbox",
                "reputation",
                "spam-filtered",
                "mailbox-full",
                "system",
            ],
            # The 552 5.2.2 row: a full mailbox can clear, but ACS called it a
            # hard bounce and only the code tables say otherwise.
            "Retryable": [None, None, False, False, False, False, False, True],
            "ClassifiedBy": [
                None,
                None,
                "status",
                "provider-rule",
                "provider-rule",
                "status",
                "acs-is-hard-bounce",
                "basic-code",
            ],
        }
    )
    assert_frame_equal(out.select(expected.columns), expected)


def test_classify_explains_special_and_unknown_codes() -> None:
    lf = _deliveries(
        FinalDeliveryStatus=["Delivered", "Failed", "Failed", "Failed"],
        SmtpStatusCode=["<not applicable>", None, "599", "abc"],
        EnhancedSmtpStatusCode=["<not applicable>", "", "4.9.9", None],
    )

    out = classify(lf).collect()

    smtp = out["SmtpStatusCodeDetails"].to_list()
    enhanced = out["EnhancedSmtpStatusCodeDetails"].to_list()
    assert smtp[0].startswith("Not applicable")
    assert enhanced[0].startswith("Not applicable")
    assert smtp[1] == enhanced[1] == "Unknown: no code was provided."
    assert smtp[2].startswith("Permanent failure: a permanent failure the RFCs")
    assert enhanced[2].startswith("Temporary failure: a temporary failure status")
    assert smtp[3] == "Unknown: reply code 'abc' is not in a form acsmail knows."
    assert out["SmtpStatusCodeDetails"].null_count() == 0
    assert out["EnhancedSmtpStatusCodeDetails"].null_count() == 0


def test_classify_without_text_extraction_leaves_codes_empty() -> None:
    lf = _deliveries(
        FinalDeliveryStatus=["Bounced"],
        FailureMessage=["550 5.1.1 The email account does not exist"],
        IsHardBounce=[True],
    )

    out = classify(lf, extract_from_text=False).collect()

    assert out["SmtpStatusCode"].to_list() == [None]
    assert out["EnhancedSmtpStatusCode"].to_list() == [None]
    # The text still names the cause.
    assert out["FailureCategory"].to_list() == ["bad-mailbox"]
    assert out["ClassifiedBy"].to_list() == ["text-pattern"]


def test_classify_uses_the_hard_bounce_flag_when_nothing_else_is_known() -> None:
    lf = _deliveries(
        FinalDeliveryStatus=["Bounced", "Failed", "Failed"],
        IsHardBounce=[True, False, None],
    )

    out = classify(lf).collect()

    assert out["FailureCategory"].to_list() == ["unknown"] * 3
    assert out["Retryable"].to_list() == [False, True, None]
    assert out["ClassifiedBy"].to_list() == [
        "acs-is-hard-bounce",
        "acs-is-hard-bounce",
        "status",
    ]


def test_classify_keeps_row_order_with_repeated_replies() -> None:
    messages = ["552 5.2.2 mailbox full", "550 5.1.1 no such user"] * 50
    lf = _deliveries(FinalDeliveryStatus=["Bounced"] * 100, FailureMessage=messages)

    out = classify(lf).collect()

    assert out["FailureCategory"].to_list() == ["mailbox-full", "bad-mailbox"] * 50


@pytest.mark.parametrize("extract", [True, False])
def test_classify_hash_tells_apart_every_pair_of_different_keys(extract: bool) -> None:
    # Every combination of a few values, the same values in several columns:
    # a hash that mixed up columns (or let a masked key differ from an empty
    # one) would count other groups than the key columns themselves.
    shared = [None, "550", "5.1.1", "mx.a"]
    rows = list(
        itertools.product(
            [None, "Delivered", "Failed", "Bounced"],
            shared,
            shared,
            shared,
            shared,
            shared,
            shared,
            [None, True, False],
        )
    )
    names = [
        "FinalDeliveryStatus",
        "SmtpStatusCode",
        "EnhancedSmtpStatusCode",
        "FailureMessage",
        "FailureReason",
        "RecipientMailServerHostName",
        "RecipientDomain",
        "IsHardBounce",
    ]
    schema = {name: pl.String() for name in names} | {"IsHardBounce": pl.Boolean()}
    df = pl.DataFrame(rows, schema=schema, orient="row")
    keyed = df.select(
        _key_hash(extract_from_text=extract).alias("hash"),
        pl.struct(_keys(extract_from_text=extract)).alias("key"),
    )
    groups = keyed.select(pl.col("key").n_unique()).item()
    assert keyed.select(pl.col("hash").n_unique()).item() == groups
    assert keyed.n_unique(["hash", "key"]) == groups
    # Rows that differ only in what a key ignores share their key: a delivered
    # row's host and domain, and its text unless codes are taken from it.
    assert groups < len(rows)


def test_classify_names_only_known_rules() -> None:
    lf = _deliveries(
        FinalDeliveryStatus=["Bounced", "Failed"],
        FailureMessage=["blocked using zen.spamhaus.org", "554 denied"],
    )

    out = classify(lf).collect()

    assert out["ClassifiedBy"].is_in(CLASSIFIERS).all()

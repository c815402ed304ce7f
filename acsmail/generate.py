"""Synthetic ACS Email exports that look, and misbehave, like real ones.

The generator invents traffic for a few ACS resources (senders, recipients on a
long tail of domains, a realistic status mix, SMTP replies in the providers' own
words, opens and clicks) and writes the three ACS Email tables in any of the
export forms acsmail reads. The imperfections of real exports (spec section 4)
are injected at rates the caller chooses, so tests and benchmarks know what to
expect.

Everything is drawn chunk by chunk from numpy generators seeded by ``(seed,
chunk)``: the same seed gives byte-identical files, the records do not depend on
the form they are written in, and memory stays flat however many messages are
asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl

from acsmail.errors import AcsmailError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import numpy.typing as npt

    _Ints = npt.NDArray[np.int64]
    _Floats = npt.NDArray[np.float64]
    _Bools = npt.NDArray[np.bool_]

__all__ = ["DEFAULT_START", "FORMS", "Quirks", "generate"]

#: The export forms :func:`generate` can write.
FORMS: Final = ("ndjson", "csv", "json", "archive", "api", "parquet")

#: Where generated traffic begins unless the caller says otherwise.
DEFAULT_START: Final = datetime(2026, 2, 10, tzinfo=UTC)

# Azure stamps records in 100 ns ticks, which is why its timestamps carry seven
# fractional digits; generating in ticks keeps every digit meaningful.
_TICKS: Final = 10_000_000
_EPOCH_TICKS_PER_US: Final = 10

_SEND = "ACSEmailSendMailOperational"
_STATUS = "ACSEmailStatusUpdateOperational"
_ENGAGEMENT = "ACSEmailUserEngagementOperational"
_TABLES: Final = (_SEND, _STATUS, _ENGAGEMENT)
_CATEGORY: Final = {
    _SEND: "EmailSendMailOperational",
    _STATUS: "EmailStatusUpdateOperational",
    _ENGAGEMENT: "EmailUserEngagementOperational",
}


@dataclass(frozen=True)
class Quirks:
    """How often each imperfection of real exports is injected.

    Rates are probabilities in ``[0, 1]``. ``pending_rate``, ``no_send_rate``
    and ``clock_skew_rate`` pick disjoint sets of messages, so their sum must not
    exceed one.

    Parameters
    ----------
    duplicate_rate
        Per record: an identical copy is written as well, as overlapping exports
        and data-export retries do.
    duplicate_send_rate
        Per message with a send record: a second send record, a little later.
    clock_skew_rate
        Per message: its terminal statuses are stamped before its send.
    pending_rate
        Per message: no terminal status at all (in flight or lost); half of
        these keep their message-level rows.
    no_send_rate
        Per message: the send record is missing (it fell outside the window).
    tie_rate
        Per message: its first recipient gets a second, different terminal
        status with exactly the same timestamp.
    retry_rate
        Per recipient: a transient ``Failed`` status precedes the final one.
    expanded_rate
        Per message: one recipient is a distribution list, expanded to members.
    engagement_rate
        Per delivered recipient: it is opened (and sometimes clicked).
    mixed_case_rate
        Per record of a workspace export: the resource id keeps the ARM
        spelling instead of the usual lower case.
    code_in_text_rate
        Per failure whose reply text carries the codes: the code columns are
        left empty, so the codes exist only in ``FailureMessage``.
    """

    duplicate_rate: float = 0.004
    duplicate_send_rate: float = 0.002
    clock_skew_rate: float = 0.002
    pending_rate: float = 0.01
    no_send_rate: float = 0.005
    tie_rate: float = 0.001
    retry_rate: float = 0.02
    expanded_rate: float = 0.01
    engagement_rate: float = 0.3
    mixed_case_rate: float = 0.02
    code_in_text_rate: float = 0.1

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                msg = f"quirk rate {name} must be between 0 and 1, got {value}"
                raise AcsmailError(msg)
        if self.pending_rate + self.no_send_rate + self.clock_skew_rate > 1.0:
            msg = "pending, no-send and clock-skew rates must sum to at most 1"
            raise AcsmailError(msg)


# --------------------------------------------------------------------------
# The cast: resources, senders, recipient domains and their mail servers.
# --------------------------------------------------------------------------

_RESOURCES: Final = (
    # ARM spells resource ids in mixed case; exports lower- or upper-case them.
    ("rg-Mail-Prod", "acs-Contoso-Prod", "North Europe", 0.62),
    ("RG-Marketing", "acs-contoso-Marketing", "East US", 0.25),
    ("rg-fabrikam-EU", "ACS-Fabrikam-EU", "West Europe", 0.13),
    ("rg-Alerts", "acs-Northwind-Alerts", "UK South", 0.08),
    ("rg-dev", "acs-Tailspin-Dev", "Australia East", 0.04),
)
_SENDER_DOMAINS: Final = (
    ("contoso.com", "notify.contoso.com", "{managed}.azurecomm.net"),
    ("news.contoso.com", "contoso.com"),
    ("fabrikam.eu", "mail.fabrikam.eu"),
    ("alerts.northwindtraders.com",),
    ("{managed}.azurecomm.net",),
)
_SENDER_USERS: Final = (
    ("DoNotReply", 0.45),
    ("noreply", 0.2),
    ("alerts", 0.1),
    ("billing", 0.08),
    ("newsletter", 0.1),
    ("support", 0.07),
)
_TRAFFIC_SOURCES: Final = (
    ("Email .NET SDK", 0.3),
    ("Linux", 0.2),
    ("Email Python SDK", 0.15),
    ("Email JavaScript SDK", 0.15),
    ("Email Java SDK", 0.1),
    ("Windows", 0.1),
)

# Provider groups decide which reply texts a recipient can get.
_GOOGLE, _MICROSOFT, _YAHOO, _APPLE, _OTHER = range(5)
_PROVIDERS: Final = {
    "google": _GOOGLE,
    "microsoft": _MICROSOFT,
    "yahoo": _YAHOO,
    "apple": _APPLE,
    "other": _OTHER,
}
_GMAIL_MX: Final = tuple(
    f"{prefix}gmail-smtp-in.l.google.com" for prefix in ("", "alt1.", "alt2.", "alt3.")
)
_WORKSPACE_MX: Final = (
    "aspmx.l.google.com",
    "alt1.aspmx.l.google.com",
    "alt2.aspmx.l.google.com",
    "aspmx2.googlemail.com",
)
_YAHOO_MX: Final = tuple(f"mta{n}.am0.yahoodns.net" for n in (5, 6, 7, 7))
_ICLOUD_MX: Final = ("mx01.mail.icloud.com", "mx02.mail.icloud.com") * 2

# Consumer mailbox providers with a rough share of real-world recipients.
_CONSUMER_DOMAINS: Final = (
    ("gmail.com", 0.28, _GOOGLE, _GMAIL_MX),
    ("googlemail.com", 0.003, _GOOGLE, _GMAIL_MX),
    ("outlook.com", 0.07, _MICROSOFT, ("outlook-com.olc.protection.outlook.com",)),
    ("hotmail.com", 0.06, _MICROSOFT, ("hotmail-com.olc.protection.outlook.com",)),
    ("live.com", 0.015, _MICROSOFT, ("live-com.olc.protection.outlook.com",)),
    ("msn.com", 0.006, _MICROSOFT, ("msn-com.olc.protection.outlook.com",)),
    ("hotmail.co.uk", 0.005, _MICROSOFT, ("hotmail-co-uk.olc.protection.outlook.com",)),
    ("yahoo.com", 0.06, _YAHOO, _YAHOO_MX),
    ("yahoo.co.uk", 0.004, _YAHOO, ("mx-eu.mail.am0.yahoodns.net",)),
    ("aol.com", 0.012, _YAHOO, ("mx-aol.mail.gm0.yahoodns.net",)),
    ("verizon.net", 0.002, _YAHOO, ("mx-aol.mail.gm0.yahoodns.net",)),
    ("icloud.com", 0.035, _APPLE, _ICLOUD_MX),
    ("me.com", 0.006, _APPLE, _ICLOUD_MX),
    ("mac.com", 0.002, _APPLE, _ICLOUD_MX),
    ("protonmail.com", 0.004, _OTHER, ("mail.protonmail.ch", "mailsec.protonmail.ch")),
    ("gmx.de", 0.005, _OTHER, ("mx00.gmx.net", "mx01.gmx.net")),
    ("web.de", 0.004, _OTHER, ("mx-ha02.web.de", "mx-ha03.web.de")),
    ("comcast.net", 0.005, _OTHER, ("mx1a1.comcast.net", "mx2c1.comcast.net")),
    ("att.net", 0.003, _OTHER, ("al-ip4-mx-vip1.prodigy.net",)),
    ("orange.fr", 0.003, _OTHER, ("smtp-in.orange.fr",)),
    ("free.fr", 0.002, _OTHER, ("mx1.free.fr", "mx2.free.fr")),
    ("mail.ru", 0.002, _OTHER, ("mxs.mail.ru",)),
    ("qq.com", 0.003, _OTHER, ("mx3.qq.com", "mx2.qq.com")),
    ("yandex.ru", 0.002, _OTHER, ("mx.yandex.ru",)),
)
_CORPORATE_DOMAINS: Final = (
    "fabrikam.com northwindtraders.com adventure-works.com tailspintoys.com "
    "wingtiptoys.com woodgrovebank.com litwareinc.com proseware.com "
    "fourthcoffee.com alpineskihouse.com blueyonderairlines.com adatum.com "
    "relecloud.com lucernepublishing.com margiestravel.com treyresearch.net "
    "coho-winery.com wideworldimporters.com humongousinsurance.com cpandl.com "
    "graphicdesigninstitute.com southridgevideo.com thephone-company.com "
    "vanarsdelltd.com fineartschool.net consolidatedmessenger.com "
    "bellowscollege.edu contosopharma.com datumcorp.de northwind.co.uk"
).split()
_CONSUMER_SHARE: Final = 0.60
_CORPORATE_SHARE: Final = 0.20
_TAIL_DOMAINS: Final = 6000
_TAIL_WORDS: Final = (
    "acme alpine amber apex arrow aspen atlas aurora beacon birch blue bright "
    "canyon cedar clear cobalt coral crest delta echo ember falcon fern forge "
    "granite harbor hazel iron juniper lake lumen maple meadow nova oak orbit "
    "pine prism quartz raven ridge river sage silver solar spruce stone summit "
    "tidal vertex willow"
).split()
_TAIL_SUFFIXES: Final = (
    "labs tech group media shop studio systems works health law cloud partners "
    "farm travel foods design"
).split()
_TLDS: Final = ("com", "com", "com", "net", "org", "io", "co.uk", "de", "fr", "nl")

_FIRST_NAMES: Final = (
    "james mary john patricia robert jennifer michael linda william elizabeth "
    "david barbara richard susan joseph jessica thomas sarah charles karen "
    "daniel nancy matthew lisa anthony betty mark sandra paul ashley steven "
    "emily andrew donna kevin michelle brian carol george amanda kenneth "
    "melissa edward deborah ronald laura timothy rebecca jason sharon jeffrey "
    "cynthia ryan kathleen jacob amy gary anna nicholas shirley eric angela "
    "lukas emma noah olivia liam sofia mateo mia hugo lea"
).split()
_LAST_NAMES: Final = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez "
    "hernandez lopez gonzalez wilson anderson thomas taylor moore jackson "
    "martin lee perez thompson white harris sanchez clark ramirez lewis "
    "robinson walker young allen king wright scott torres nguyen hill flores "
    "green adams nelson baker hall rivera campbell mitchell carter roberts "
    "muller schmidt schneider fischer weber meyer dubois moreau laurent "
    "rossi russo ferrari jansen devries novak kowalski silva santos"
).split()
_LIST_NAMES: Final = (
    "all-staff team-sales support-team dl-engineering marketing-list "
    "finance-ops it-helpdesk board-members"
).split()

_USER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/121.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
    "GoogleImageProxy)",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/121.0.6167.101 Mobile Safari/537.36",
    "Mozilla/5.0",
)
_LINKS: Final = (
    "https://www.contoso.com/account?utm_source=email&utm_campaign=welcome",
    "https://www.contoso.com/support?id=12345",
    "https://shop.contoso.com/offers/spring-sale",
    "https://www.contoso.com/unsubscribe?list=news",
    "https://status.contoso.com/incidents/2026-02",
    "https://docs.contoso.com/getting-started",
)
_EXCHANGE_SERVERS: Final = (
    "AM0P190MB0737.EURP190.PROD.OUTLOOK.COM",
    "PH7P223MB1058.NAMP223.PROD.OUTLOOK.COM",
    "DB9P194MB1316.EURP194.PROD.OUTLOOK.COM",
    "SJ2P223MB0952.NAMP223.PROD.OUTLOOK.COM",
    "LO2P123MB6622.GBRP123.PROD.OUTLOOK.COM",
)

# --------------------------------------------------------------------------
# Statuses, latencies and the replies receiving servers give.
# --------------------------------------------------------------------------

_TERMINAL: Final = (
    "Delivered",
    "Bounced",
    "Failed",
    "Suppressed",
    "Quarantined",
    "FilteredSpam",
)
_DELIVERED, _BOUNCED, _FAILED, _SUPPRESSED = range(4)
_STATUS_MIX: Final = (0.93, 0.025, 0.02, 0.012, 0.005, 0.008)

# Seconds from send to terminal status, per status: a lognormal body
# (median, sigma) plus a share of slow ones (share, median, sigma), over a
# floor. Failures that end in expiry are slow by nature.
_LATENCY: Final = (
    (1.0, 3.0, 0.7, 0.04, 300.0, 1.3),
    (1.0, 2.0, 0.6, 0.05, 600.0, 1.0),
    (1.0, 5.0, 0.8, 0.5, 3600.0, 1.0),
    (0.2, 0.5, 0.5, 0.0, 1.0, 1.0),
    (1.0, 4.0, 0.7, 0.02, 300.0, 1.0),
    (1.0, 4.0, 0.7, 0.02, 300.0, 1.0),
)

_IP: Final = "203.0.113.25"  # a documentation address, never a real sender


@dataclass(frozen=True)
class _Reply:
    """One kind of reply a recipient's server gives, as ACS records it."""

    status: str
    providers: str  # space-separated provider groups, or "*"
    weight: float
    smtp: str
    enhanced: str
    reason: str
    message: str  # "{rcpt}" stands for the recipient address
    hard: bool | None
    reaches_server: bool = True


_REPLIES: Final = (
    # Delivered: half the rows carry the acceptance code, half carry nothing.
    _Reply("Delivered", "*", 0.45, "", "", "", "", False),
    _Reply("Delivered", "microsoft", 0.55, "250", "2.6.0", "", "", False),
    _Reply("Delivered", "google yahoo apple other", 0.55, "250", "2.0.0", "", "", False),
    # Bounced: the mailbox or the domain does not exist.
    _Reply(
        "Bounced",
        "other",
        3,
        "550",
        "5.1.1",
        "Recipient address rejected",
        "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
        True,
    ),
    _Reply(
        "Bounced",
        "other",
        1,
        "553",
        "5.1.3",
        "Invalid recipient address",
        "553 5.1.3 The recipient address <{rcpt}> is not a valid RFC 5321 address",
        True,
    ),
    _Reply(
        "Bounced",
        "other",
        1,
        "550",
        "5.4.310",
        "Recipient domain does not exist",
        "550 5.4.310 DNS domain does not exist [Message=InfoDomainNonexistent] "
        "[LastAttemptedServerName=]",
        True,
        reaches_server=False,
    ),
    _Reply(
        "Bounced",
        "google",
        4,
        "550",
        "5.1.1",
        "Mailbox does not exist",
        "550-5.1.1 The email account that you tried to reach does not exist. Please "
        "try\n550-5.1.1 double-checking the recipient's email address for typos or"
        "\n550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  "
        "https://support.google.com/mail/?p=NoSuchUser 5b1f17b1804b1-41e1b0 - gsmtp",
        True,
    ),
    _Reply(
        "Bounced",
        "google",
        1,
        "550",
        "5.2.1",
        "Mailbox disabled",
        "550 5.2.1 The email account that you tried to reach is inactive. For more "
        "information, go to https://support.google.com/mail/?p=DisabledUser - gsmtp",
        True,
    ),
    _Reply(
        "Bounced",
        "microsoft",
        3,
        "550",
        "5.1.10",
        "Recipient not found",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by "
        "SMTP address lookup",
        True,
    ),
    _Reply(
        "Bounced",
        "microsoft",
        2,
        "550",
        "5.4.1",
        "Recipient address rejected",
        "550 5.4.1 Recipient address rejected: Access denied. For more information "
        "see https://aka.ms/EXOSmtpErrors [AM4PEPF00027A6C.eurprd04.prod.outlook.com]",
        True,
    ),
    _Reply(
        "Bounced",
        "yahoo",
        3,
        "554",
        "",
        "Recipient does not exist",
        "554 delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) "
        "[0] - mta7.am0.yahoodns.net",
        True,
    ),
    _Reply(
        "Bounced",
        "yahoo",
        1,
        "554",
        "",
        "Mailbox disabled",
        "554 30 Sorry, your message to {rcpt} cannot be delivered. This mailbox is "
        "disabled (554.30).",
        True,
    ),
    _Reply(
        "Bounced",
        "apple",
        3,
        "550",
        "5.1.1",
        "User unknown",
        "550 5.1.1 <{rcpt}>: user does not exist",
        True,
    ),
    # Failed: mostly temporary trouble, reputation and authentication.
    _Reply(
        "Failed",
        "google",
        3,
        "421",
        "4.7.28",
        "Rate limited",
        "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail "
        "originating\n421-4.7.28 from your DKIM domain. To protect our users from "
        "spam, mail sent\n421-4.7.28 from your domain has been temporarily rate "
        "limited. For more\n421 4.7.28 information, go to "
        "https://support.google.com/mail/?p=UnsolicitedRateLimitError - gsmtp",
        False,
    ),
    _Reply(
        "Failed",
        "google",
        2,
        "550",
        "5.7.26",
        "Unauthenticated sender",
        "550-5.7.26 This mail has been blocked because the sender is "
        "unauthenticated. Gmail requires all senders to authenticate with either "
        "SPF or DKIM. - gsmtp",
        False,
    ),
    _Reply(
        "Failed",
        "google",
        1,
        "452",
        "4.2.2",
        "Mailbox full",
        "452-4.2.2 The recipient's inbox is out of storage space. Please direct the "
        "recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
        False,
    ),
    _Reply(
        "Failed",
        "google",
        1,
        "421",
        "4.7.23",
        "Sending IP has no PTR record",
        f"421-4.7.23 The sending IP address {_IP} does not have a PTR record set up "
        "- gsmtp",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        3,
        "550",
        "5.7.708",
        "Access denied",
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from "
        "this IP. For more information please go to "
        "http://go.microsoft.com/fwlink/?LinkId=526653 AS(7708) "
        "[BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        2,
        "451",
        "4.7.650",
        "Temporarily rate limited",
        f"451 4.7.650 The mail server [{_IP}] has been temporarily rate limited due "
        "to IP reputation. For e-mail delivery information, see "
        "https://postmaster.live.com (S775)",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        1,
        "550",
        "5.7.1",
        "Blocked by policy",
        f"550 5.7.1 Unfortunately, messages from [{_IP}] weren't sent. Please "
        "contact your Internet service provider since part of their network is on "
        "our block list (S3150).",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        1,
        "550",
        "5.7.509",
        "DMARC failure",
        "550 5.7.509 Access denied, sending domain does not pass DMARC verification "
        "and has a DMARC policy of reject.",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        1,
        "554",
        "5.2.2",
        "Mailbox full",
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
        "MapiExceptionShutoffQuotaExceeded",
        False,
    ),
    _Reply(
        "Failed",
        "microsoft",
        1,
        "421",
        "",
        "Rate limited",
        f"421 RP-001 (BN1NAM02FT046) Unfortunately, some messages from {_IP} weren't "
        "sent. Please try again. We have limits for how many messages can be sent "
        "per hour and per day.",
        False,
    ),
    _Reply(
        "Failed",
        "yahoo",
        3,
        "421",
        "4.7.0",
        "Temporarily deferred",
        f"421 4.7.0 [TSS04] Messages from {_IP} temporarily deferred due to "
        "unexpected volume or user complaints - 4.16.55.1; see "
        "https://postmaster.yahooinc.com/error-codes",
        False,
    ),
    _Reply(
        "Failed",
        "yahoo",
        1,
        "553",
        "5.7.2",
        "Permanently deferred",
        f"553 5.7.2 [TSS09] All messages from {_IP} will be permanently deferred; "
        "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
        False,
    ),
    _Reply(
        "Failed",
        "apple",
        2,
        "552",
        "5.2.2",
        "Mailbox full",
        "552 5.2.2 <{rcpt}>: user is over quota",
        False,
    ),
    _Reply(
        "Failed",
        "apple",
        1,
        "421",
        "4.7.1",
        "Deferred due to volume",
        "421 4.7.1 deferred due to excessive volume, try again later",
        False,
    ),
    _Reply(
        "Failed",
        "*",
        2,
        "",
        "",
        "Message expired",
        "451 4.4.7 Message expired, the destination mail server did not respond in "
        "time. Last attempt: 4.4.316 Connection refused [Message=Socket error code "
        "10061]",
        False,
        reaches_server=False,
    ),
    _Reply(
        "Failed",
        "other",
        1,
        "550",
        "4.4.7",
        "Message expired",
        "550 4.4.7 QUEUE.Expired; message expired",
        False,
    ),
    _Reply(
        "Failed",
        "other",
        2,
        "452",
        "4.2.2",
        "Mailbox full",
        "452 4.2.2 <{rcpt}>: Recipient address rejected: Mailbox is full",
        False,
    ),
    _Reply(
        "Failed",
        "other",
        1,
        "552",
        "5.3.4",
        "Message too large",
        "552 5.3.4 Message size exceeds fixed maximum message size",
        False,
    ),
    _Reply(
        "Failed",
        "other",
        2,
        "554",
        "5.7.1",
        "Sender blocklisted",
        f"554 5.7.1 Service unavailable; Client host [{_IP}] blocked using "
        f"zen.spamhaus.org; https://www.spamhaus.org/query/ip/{_IP}",
        False,
    ),
    _Reply(
        "Failed",
        "other",
        1,
        "450",
        "4.7.1",
        "Greylisted",
        "450 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/",
        False,
    ),
    _Reply(
        "Failed",
        "other",
        1,
        "550",
        "5.7.1",
        "Relaying denied",
        "550 5.7.1 <{rcpt}>: Relay access denied",
        False,
    ),
    # Suppressed: ACS drops the message itself; no server is ever contacted.
    _Reply(
        "Suppressed",
        "*",
        4,
        "",
        "",
        "Recipient suppressed",
        "The recipient address is on the managed suppression list after an "
        "earlier hard bounce.",
        None,
        reaches_server=False,
    ),
    _Reply(
        "Suppressed",
        "*",
        1,
        "",
        "",
        "Recipient suppressed",
        "The recipient address is on the sender domain's suppression list.",
        None,
        reaches_server=False,
    ),
    # Quarantined and FilteredSpam: the receiving side judged the content.
    _Reply(
        "Quarantined",
        "*",
        2,
        "",
        "",
        "Quarantined",
        "The message was quarantined by the recipient's mail service as suspected "
        "spam, bulk mail or phishing.",
        None,
    ),
    _Reply(
        "Quarantined",
        "microsoft",
        2,
        "250",
        "2.6.0",
        "Quarantined",
        "250 2.6.0 Queued mail for delivery; message quarantined as suspected "
        "phishing",
        None,
    ),
    _Reply(
        "FilteredSpam",
        "google",
        3,
        "550",
        "5.7.1",
        "Message rejected as spam",
        f"550-5.7.1 [{_IP}] Gmail has detected that this message is likely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail, this message "
        "has been blocked. - gsmtp",
        False,
    ),
    _Reply(
        "FilteredSpam",
        "microsoft",
        2,
        "550",
        "5.7.1",
        "Message rejected as spam",
        "550 5.7.1 Message rejected as spam by Content Filtering.",
        False,
    ),
    _Reply(
        "FilteredSpam",
        "yahoo",
        2,
        "554",
        "5.7.9",
        "Message not accepted for policy reasons",
        "554 5.7.9 Message not accepted for policy reasons. See "
        "https://postmaster.yahooinc.com/error-codes",
        False,
    ),
    _Reply(
        "FilteredSpam",
        "apple",
        2,
        "554",
        "5.7.1",
        "Message rejected due to local policy",
        "554 5.7.1 [CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137",
        False,
    ),
    _Reply(
        "FilteredSpam",
        "*",
        1,
        "554",
        "5.7.1",
        "Message rejected as spam",
        "554 5.7.1 Rejected: message identified as spam",
        False,
    ),
)

# How ACS happens to spell IsHardBounce: mostly Pascal case, sometimes lower
# case, often not at all.
_HARD_SPELLINGS: Final = {
    True: (("True", 0.85), ("true", 0.05), ("", 0.10)),
    False: (("False", 0.72), ("false", 0.08), ("", 0.20)),
    None: (("", 0.75), ("False", 0.25)),
}


@dataclass(frozen=True)
class _World:
    """Everything fixed for one run: ids, resources, domains, replies, clock."""

    tenant: str
    resource_ids: tuple[str, ...]
    resource_cdf: _Floats
    locations: tuple[str, ...]
    workspace: str
    sender_domains: tuple[tuple[str, ...], ...]
    domains: pl.Series
    domain_provider: _Ints
    domain_hosts: pl.Series  # four variants per domain, flattened
    domain_cdf: _Floats
    corporate: _Ints  # indices of corporate domains, for distribution lists
    replies: pl.DataFrame
    reply_groups: dict[tuple[int, int], tuple[_Ints, _Floats]]
    start: int
    span: int
    clock: _Floats  # inverse of the cumulative send rate, on a minute grid
    messages: int


def _cdf(weights: Sequence[float]) -> _Floats:
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cumulative / cumulative[-1]


def _pick(rng: np.random.Generator, cdf: _Floats, size: int) -> _Ints:
    """Draw ``size`` indices from the categorical distribution ``cdf``."""
    picked = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(picked, len(cdf) - 1).astype(np.int64)


def _guids(rng: np.random.Generator, size: int) -> pl.Series:
    """Random version-4 GUIDs, lower-case, built without a Python loop."""
    raw = rng.integers(0, 256, (size, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = _hex_digits(raw)
    text = np.full((size, 36), ord("-"), dtype=np.uint8)
    for start, stop, at in ((0, 8, 0), (8, 12, 9), (12, 16, 14), (16, 20, 19)):
        text[:, at : at + stop - start] = digits[:, start:stop]
    text[:, 24:36] = digits[:, 20:32]
    return pl.Series(text.view("S36").ravel()).cast(pl.String)


def _hex_digits(raw: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    alphabet = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    digits[:, 0::2] = alphabet[raw >> 4]
    digits[:, 1::2] = alphabet[raw & 0x0F]
    return digits


def _build_world(
    seed: int, resources: int, start: datetime, hours: float, messages: int
) -> _World:
    # A generator of its own, so the cast does not shift the chunks' streams.
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31,)))
    ids = _guids(rng, 2 + resources).to_list()
    managed = ids[1]
    chosen = _RESOURCES[:resources]
    resource_ids = tuple(
        f"/subscriptions/{ids[2 + i % 2]}/resourceGroups/{group}/providers/"
        f"Microsoft.Communication/CommunicationServices/{name}"
        for i, (group, name, _, _) in enumerate(chosen)
    )
    domains, provider, hosts, weights, corporate = _domain_table(rng)
    replies, groups = _reply_table()
    span = int(hours * 3600 * _TICKS)
    return _World(
        tenant=ids[0],
        resource_ids=resource_ids,
        resource_cdf=_cdf([weight for *_, weight in chosen]),
        locations=tuple(location for _, _, location, _ in chosen),
        workspace=f"/subscriptions/{ids[2]}/resourcegroups/rg-monitoring/providers/"
        "microsoft.operationalinsights/workspaces/law-email",
        sender_domains=tuple(
            tuple(domain.format(managed=managed) for domain in names)
            for names in _SENDER_DOMAINS[:resources]
        ),
        domains=pl.Series(domains),
        domain_provider=np.asarray(provider, dtype=np.int64),
        domain_hosts=pl.Series(hosts),
        domain_cdf=_cdf(weights),
        corporate=np.asarray(corporate, dtype=np.int64),
        replies=replies,
        reply_groups=groups,
        start=int(start.timestamp()) * _TICKS,
        span=span,
        clock=_send_clock(start, hours),
        messages=messages,
    )


def _domain_table(
    rng: np.random.Generator,
) -> tuple[list[str], list[int], list[str], list[float], list[int]]:
    """Recipient domains with their providers, mail servers and weights."""
    names: list[str] = []
    provider: list[int] = []
    hosts: list[str] = []
    weights: list[float] = []
    consumer_total = sum(share for _, share, _, _ in _CONSUMER_DOMAINS)
    for name, share, group, mx in _CONSUMER_DOMAINS:
        names.append(name)
        provider.append(group)
        hosts.extend((mx * 4)[:4])
        weights.append(_CONSUMER_SHARE * share / consumer_total)
    corporate = list(range(len(names), len(names) + len(_CORPORATE_DOMAINS)))
    _add_zipf(names, provider, hosts, weights, _CORPORATE_DOMAINS, _CORPORATE_SHARE)
    tail = sorted(
        {
            f"{first}{second}.{tld}"
            for first, second, tld in zip(
                rng.choice(_TAIL_WORDS, 3 * _TAIL_DOMAINS),
                rng.choice(_TAIL_SUFFIXES + _TAIL_WORDS, 3 * _TAIL_DOMAINS),
                rng.choice(_TLDS, 3 * _TAIL_DOMAINS),
                strict=True,
            )
        }
    )
    order = rng.permutation(len(tail))[:_TAIL_DOMAINS]
    tail_names = [tail[i] for i in order]
    share = 1.0 - _CONSUMER_SHARE - _CORPORATE_SHARE
    _add_zipf(names, provider, hosts, weights, tail_names, share)
    return names, provider, hosts, weights, corporate


def _add_zipf(
    names: list[str],
    provider: list[int],
    hosts: list[str],
    weights: list[float],
    new: Sequence[str],
    share: float,
) -> None:
    # Rank-frequency close to Zipf's law gives the long tail real traffic has.
    ranks = np.arange(1, len(new) + 1, dtype=np.float64) ** -1.1
    for rank, name in enumerate(new):
        group, mx = _mail_host(name, rank)
        names.append(name)
        provider.append(group)
        hosts.extend((mx * 4)[:4])
        weights.append(share * ranks[rank] / ranks.sum())


def _mail_host(domain: str, rank: int) -> tuple[int, tuple[str, ...]]:
    """Who runs a company's mail: mostly Microsoft 365, often Google."""
    kind = (rank * 7 + len(domain)) % 20
    if kind < 9:
        return _MICROSOFT, (f"{domain.replace('.', '-')}.mail.protection.outlook.com",)
    if kind < 14:
        return _GOOGLE, _WORKSPACE_MX
    if kind == 14:
        number = 100000 + rank * 37 % 900000
        return _OTHER, (f"mx0a-00{number}.pphosted.com", f"mx0b-00{number}.pphosted.com")
    if kind == 15:
        region = "eu" if domain.endswith((".de", ".fr", ".nl", ".uk")) else "us"
        return _OTHER, tuple(
            f"{region}-smtp-inbound-{n}.mimecast.com" for n in (1, 2)
        )
    return _OTHER, (f"mx1.{domain}", f"mx2.{domain}", f"mail.{domain}")


def _reply_table() -> tuple[pl.DataFrame, dict[tuple[int, int], tuple[_Ints, _Floats]]]:
    """The reply catalogue as columns, and which replies fit which recipient."""
    rows = []
    for reply in _REPLIES:
        before, placeholder, after = reply.message.partition("{rcpt}")
        rows.append(
            {
                "SmtpStatusCode": reply.smtp,
                "EnhancedSmtpStatusCode": reply.enhanced,
                "FailureReason": reply.reason,
                "_before": before,
                "_after": after,
                "_names_rcpt": bool(placeholder),
                "_hard": -1 if reply.hard is None else int(reply.hard),
                "_reaches": reply.reaches_server,
                # The codes can be blanked only when the text still holds them.
                "_text_codes": bool(reply.smtp) and reply.message.startswith(reply.smtp),
            }
        )
    groups: dict[tuple[int, int], tuple[_Ints, _Floats]] = {}
    for status, name in enumerate(_TERMINAL):
        for provider_name, provider in _PROVIDERS.items():
            fits = [
                (index, reply.weight)
                for index, reply in enumerate(_REPLIES)
                if reply.status == name
                and (reply.providers == "*" or provider_name in reply.providers.split())
            ]
            indices = np.asarray([index for index, _ in fits], dtype=np.int64)
            groups[status, provider] = (indices, _cdf([w for _, w in fits]))
    return pl.DataFrame(rows), groups


def _send_clock(start: datetime, hours: float) -> _Floats:
    """Minute offsets at which the cumulative send volume crosses a quantile.

    Traffic peaks in the (UTC) afternoon and never stops at night, so the
    per-hour report has a shape to show.
    """
    minutes = np.arange(0, max(1, math.ceil(hours * 60)) + 1, dtype=np.float64)
    hour_of_day = (start.hour + start.minute / 60 + minutes / 60) % 24
    rate = 0.35 + np.exp(-(((hour_of_day - 14.0) / 4.0) ** 2))
    cumulative = np.concatenate([[0.0], np.cumsum(rate[:-1])])
    quantiles = cumulative / cumulative[-1]
    grid = np.linspace(0.0, 1.0, 4097)
    return np.asarray(np.interp(grid, quantiles, minutes / minutes[-1]))


# --------------------------------------------------------------------------
# One chunk of traffic: messages, recipients, then the three tables' rows.
# --------------------------------------------------------------------------

_NORMAL, _PENDING, _NO_SEND, _SKEWED = range(4)


def _chunk(
    world: _World, rng: np.random.Generator, first: int, count: int, quirks: Quirks
) -> dict[str, pl.DataFrame]:
    """Rows of the three tables for messages ``first`` to ``first + count``."""
    messages = _draw_messages(world, rng, first, count, quirks)
    recipients = _draw_recipients(world, rng, messages, quirks)
    status, final = _status_rows(world, rng, messages, recipients, quirks)
    tables = {
        _SEND: _send_rows(rng, messages, quirks),
        _STATUS: status,
        _ENGAGEMENT: _engagement_rows(rng, messages, final, quirks),
    }
    return {
        name: _with_duplicates(rng, _attach_message(frame, messages), quirks)
        for name, frame in tables.items()
    }


def _draw_messages(
    world: _World, rng: np.random.Generator, first: int, count: int, quirks: Quirks
) -> pl.DataFrame:
    """One row per message: its id, send time, resource, size and recipients."""
    position = (np.arange(first, first + count) + rng.random(count)) / world.messages
    offset = np.interp(position, np.linspace(0.0, 1.0, len(world.clock)), world.clock)
    resource = _pick(rng, world.resource_cdf, count)
    fate_draw = rng.random(count)
    fate = np.full(count, _NORMAL, dtype=np.int64)
    edges = np.cumsum([quirks.pending_rate, quirks.no_send_rate, quirks.clock_skew_rate])
    fate[fate_draw < edges[2]] = _SKEWED
    fate[fate_draw < edges[1]] = _NO_SEND
    fate[fate_draw < edges[0]] = _PENDING
    size, attachments = _draw_sizes(rng, count)
    recipients = np.minimum(rng.zipf(2.6, count), 50).astype(np.int64)
    return pl.DataFrame(
        {
            "CorrelationId": _guids(rng, count),
            "_send": world.start + (offset * world.span).astype(np.int64),
            "_res": resource,
            "_fate": fate,
            "Size": size,
            "AttachmentsCount": attachments,
            "_n": recipients,
            "_expanded": rng.random(count) < quirks.expanded_rate,
            "_tie": rng.random(count) < quirks.tie_rate,
            "_lost": rng.random(count) < 0.5,
            "TrafficSource": _choose(rng, _TRAFFIC_SOURCES, count),
            "SenderUsername": _choose(rng, _SENDER_USERS, count),
            "SenderDomain": _sender_domains(world, rng, resource),
            "InternetMessageId": _internet_message_ids(rng, count),
        }
    ).with_columns(_recipient_counts(rng, recipients))


def _choose(
    rng: np.random.Generator, options: Sequence[tuple[str, float]], size: int
) -> pl.Series:
    names = pl.Series([name for name, _ in options])
    return names.gather(_pick(rng, _cdf([weight for _, weight in options]), size))


def _sender_domains(
    world: _World, rng: np.random.Generator, resource: _Ints
) -> pl.Series:
    flat = [domain for domains in world.sender_domains for domain in domains]
    offsets = np.cumsum([0] + [len(domains) for domains in world.sender_domains])
    sizes = np.diff(offsets)[resource]
    # The first domain of a resource carries most of its mail.
    choice = np.where(rng.random(len(resource)) < 0.7, 0, rng.integers(0, 1 << 30, len(resource)) % sizes)
    return pl.Series(flat).gather(offsets[resource] + choice)


def _internet_message_ids(rng: np.random.Generator, size: int) -> pl.Series:
    """Exchange-style Message-ID headers, since ACS sends through Exchange Online."""
    raw = rng.integers(0, 256, (size, 20), dtype=np.uint8)
    local = pl.Series(_hex_digits(raw).view("S40").ravel()).cast(pl.String)
    server = pl.Series(_EXCHANGE_SERVERS).gather(
        rng.integers(0, len(_EXCHANGE_SERVERS), size)
    )
    return pl.select(
        pl.concat_str(
            [pl.lit("<"), pl.lit(local).str.to_uppercase(), pl.lit("@"), pl.lit(server), pl.lit(">")]
        )
    ).to_series()


def _draw_sizes(rng: np.random.Generator, count: int) -> tuple[_Floats, _Ints]:
    """Message sizes in MB over every size category, and attachment counts."""
    # Bands match the report's categories; within a band sizes are log-uniform.
    bands = np.array([[0.002, 0.1], [0.1, 1.0], [1.0, 5.0], [5.0, 10.0], [10.0, 30.0]])
    band = _pick(rng, _cdf([0.72, 0.19, 0.065, 0.02, 0.005]), count)
    low, high = np.log(bands[band, 0]), np.log(bands[band, 1])
    size = np.round(np.exp(low + (high - low) * rng.random(count)), 6)
    size = np.clip(size, bands[band, 0], np.nextafter(bands[band, 1], 0))
    attachments = np.where(
        band == 0,
        (rng.random(count) < 0.08).astype(np.int64),
        np.where(band == 1, rng.integers(0, 3, count), 1 + rng.poisson(1.2, count)),
    )
    return size, attachments.astype(np.int64)


def _recipient_counts(rng: np.random.Generator, unique: _Ints) -> list[pl.Series]:
    """Split the unique recipients over To, Cc and Bcc."""
    count = len(unique)
    split = rng.random(count) < 0.15
    cc = np.where(split, rng.binomial(np.maximum(unique - 1, 0), 0.3), 0)
    bcc = np.where(split, rng.binomial(np.maximum(unique - 1 - cc, 0), 0.2), 0)
    # Now and then an address sits on two lines, so the lines add up to more
    # than the unique count.
    again = (rng.random(count) < 0.01).astype(np.int64)
    return [
        pl.Series("ToRecipientsCount", unique - cc - bcc + again),
        pl.Series("CcRecipientsCount", cc),
        pl.Series("BccRecipientsCount", bcc),
        pl.Series("UniqueRecipientsCount", unique),
    ]


def _draw_recipients(
    world: _World, rng: np.random.Generator, messages: pl.DataFrame, quirks: Quirks
) -> pl.DataFrame:
    """One row per recipient, with distribution lists expanded to members.

    Column ``_list`` marks a distribution list: it gets an ``Expanded`` status
    and nothing else, while its members get terminal statuses.
    """
    counts = messages["_n"].to_numpy()
    message = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    domain = _pick(rng, world.domain_cdf, len(message))
    is_list = np.zeros(len(message), dtype=np.bool_)
    first_of_message = np.concatenate([[0], np.cumsum(counts)[:-1]])
    expanded = messages["_expanded"].to_numpy()
    lists = first_of_message[expanded]
    is_list[lists] = True
    domain[lists] = world.corporate[rng.integers(0, len(world.corporate), len(lists))]
    members = rng.integers(2, 9, len(lists))
    member_message = np.repeat(message[lists], members)
    member_domain = np.repeat(domain[lists], members)
    recipients = pl.DataFrame(
        {
            "_msg": np.concatenate([message, member_message]),
            "_domain": np.concatenate([domain, member_domain]),
            "_list": np.concatenate([is_list, np.zeros(len(member_message), np.bool_)]),
        }
    )
    return recipients.with_columns(
        _addresses(world, rng, recipients["_domain"].to_numpy(), recipients["_list"])
    )


def _addresses(
    world: _World, rng: np.random.Generator, domain: _Ints, is_list: pl.Series
) -> pl.Series:
    size = len(domain)
    first = pl.Series(_FIRST_NAMES).gather(rng.integers(0, len(_FIRST_NAMES), size))
    last = pl.Series(_LAST_NAMES).gather(rng.integers(0, len(_LAST_NAMES), size))
    group = pl.Series(_LIST_NAMES).gather(rng.integers(0, len(_LIST_NAMES), size))
    frame = pl.DataFrame(
        {
            "first": first,
            "last": last,
            "group": group,
            "list": is_list,
            "pattern": rng.integers(0, 5, size),
            "number": rng.integers(1, 100, size),
            "year": rng.integers(1960, 2006, size),
            "domain": world.domains.gather(domain),
            "shout": rng.random(size) < 0.02,
        }
    )
    pattern = pl.col("pattern")
    local = (
        pl.when(pl.col("list"))
        .then(pl.col("group"))
        .when(pattern == 0)
        .then(pl.concat_str("first", pl.lit("."), "last"))
        .when(pattern == 1)
        .then(pl.concat_str("first", "last"))
        .when(pattern == 2)
        .then(pl.concat_str(pl.col("first").str.head(1), "last"))
        .when(pattern == 3)
        .then(pl.concat_str("first", pl.lit("."), "last", pl.col("number").cast(pl.String)))
        .otherwise(pl.concat_str("first", pl.lit("_"), "last", pl.col("year").cast(pl.String)))
    )
    address = pl.concat_str(local, pl.lit("@"), "domain")
    # A few people type their address with capitals; domains compare folded.
    shouted = pl.concat_str(
        local.str.to_titlecase(), pl.lit("@"), pl.col("domain").str.to_titlecase()
    )
    return frame.select(
        pl.when("shout").then(shouted).otherwise(address).alias("RecipientId")
    ).to_series()

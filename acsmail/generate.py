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

import io
import json
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import numpy as np
import polars as pl

from acsmail.errors import AcsmailError
from acsmail.schema import GENERATED_FORMS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    import numpy.typing as npt

    _Ints = npt.NDArray[np.int64]
    _Floats = npt.NDArray[np.float64]

__all__ = ["DEFAULT_START", "FORMS", "Quirks", "generate"]

#: The export forms :func:`generate` can write.
FORMS: Final = GENERATED_FORMS

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


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


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
_CORPORATE_DOMAINS: Final = _words(
    "fabrikam.com northwindtraders.com adventure-works.com tailspintoys.com "
    "wingtiptoys.com woodgrovebank.com litwareinc.com proseware.com "
    "fourthcoffee.com alpineskihouse.com blueyonderairlines.com adatum.com "
    "relecloud.com lucernepublishing.com margiestravel.com treyresearch.net "
    "coho-winery.com wideworldimporters.com humongousinsurance.com cpandl.com "
    "graphicdesigninstitute.com southridgevideo.com thephone-company.com "
    "vanarsdelltd.com fineartschool.net consolidatedmessenger.com "
    "bellowscollege.edu contosopharma.com datumcorp.de northwind.co.uk"
)
_CONSUMER_SHARE: Final = 0.60
_CORPORATE_SHARE: Final = 0.20
_TAIL_DOMAINS: Final = 6000
_TAIL_WORDS: Final = _words(
    "acme alpine amber apex arrow aspen atlas aurora beacon birch blue bright "
    "canyon cedar clear cobalt coral crest delta echo ember falcon fern forge "
    "granite harbor hazel iron juniper lake lumen maple meadow nova oak orbit "
    "pine prism quartz raven ridge river sage silver solar spruce stone summit "
    "tidal vertex willow"
)
_TAIL_SUFFIXES: Final = _words(
    "labs tech group media shop studio systems works health law cloud partners "
    "farm travel foods design"
)
_TLDS: Final = ("com", "com", "com", "net", "org", "io", "co.uk", "de", "fr", "nl")

_FIRST_NAMES: Final = _words(
    "james mary john patricia robert jennifer michael linda william elizabeth "
    "david barbara richard susan joseph jessica thomas sarah charles karen "
    "daniel nancy matthew lisa anthony betty mark sandra paul ashley steven "
    "emily andrew donna kevin michelle brian carol george amanda kenneth "
    "melissa edward deborah ronald laura timothy rebecca jason sharon jeffrey "
    "cynthia ryan kathleen jacob amy gary anna nicholas shirley eric angela "
    "lukas emma noah olivia liam sofia mateo mia hugo lea"
)
_LAST_NAMES: Final = _words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez "
    "hernandez lopez gonzalez wilson anderson thomas taylor moore jackson "
    "martin lee perez thompson white harris sanchez clark ramirez lewis "
    "robinson walker young allen king wright scott torres nguyen hill flores "
    "green adams nelson baker hall rivera campbell mitchell carter roberts "
    "muller schmidt schneider fischer weber meyer dubois moreau laurent "
    "rossi russo ferrari jansen devries novak kowalski silva santos"
)
_LIST_NAMES: Final = _words(
    "all-staff team-sales support-team dl-engineering marketing-list "
    "finance-ops it-helpdesk board-members"
)

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
    _Reply(
        "Delivered", "google yahoo apple other", 0.55, "250", "2.0.0", "", "", False
    ),
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
        "250 2.6.0 Queued mail for delivery; message quarantined as suspected phishing",
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
    return np.asarray(cumulative / cumulative[-1], dtype=np.float64)


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
    _add_zipf(
        names, provider, hosts, weights, _CORPORATE_DOMAINS, _CORPORATE_SHARE, 0.8
    )
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
    _add_zipf(names, provider, hosts, weights, tail_names, share, 1.0)
    return names, provider, hosts, weights, corporate


def _add_zipf(
    names: list[str],
    provider: list[int],
    hosts: list[str],
    weights: list[float],
    new: Sequence[str],
    share: float,
    exponent: float,
) -> None:
    # Rank-frequency close to Zipf's law gives the long tail real traffic has.
    ranks = np.arange(1, len(new) + 1, dtype=np.float64) ** -exponent
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
        return _OTHER, (
            f"mx0a-00{number}.pphosted.com",
            f"mx0b-00{number}.pphosted.com",
        )
    if kind == 15:
        region = "eu" if domain.endswith((".de", ".fr", ".nl", ".uk")) else "us"
        return _OTHER, tuple(f"{region}-smtp-inbound-{n}.mimecast.com" for n in (1, 2))
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
                "_text_codes": bool(reply.smtp)
                and reply.message.startswith(reply.smtp),
            }
        )
    groups: dict[tuple[int, int], tuple[_Ints, _Floats]] = {}
    for status, name in enumerate((*_TERMINAL, "transient")):
        for provider_name, provider in _PROVIDERS.items():
            fits = [
                (index, reply.weight)
                for index, reply in enumerate(_REPLIES)
                if _reply_fits(reply, name, provider_name)
            ]
            indices = np.asarray([index for index, _ in fits], dtype=np.int64)
            groups[status, provider] = (indices, _cdf([w for _, w in fits]))
    return pl.DataFrame(rows), groups


def _reply_fits(reply: _Reply, status: str, provider: str) -> bool:
    """Whether a provider may answer a recipient of that status with ``reply``."""
    if reply.providers != "*" and provider not in reply.providers.split():
        return False
    if status == "transient":
        # A failure ACS retried afterwards: a temporary (4xx) reply.
        return reply.status == "Failed" and reply.message.startswith("4")
    return reply.status == status


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
        name: _with_duplicates(rng, frame, quirks) for name, frame in tables.items()
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
    edges = np.cumsum(
        [quirks.pending_rate, quirks.no_send_rate, quirks.clock_skew_rate]
    )
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
    choice = np.where(
        rng.random(len(resource)) < 0.7,
        0,
        rng.integers(0, 1 << 30, len(resource)) % sizes,
    )
    return pl.Series(flat).gather(offsets[resource] + choice)


def _internet_message_ids(rng: np.random.Generator, size: int) -> pl.Series:
    """Message-ID headers in the style Exchange Online gives them."""
    raw = rng.integers(0, 256, (size, 20), dtype=np.uint8)
    local = pl.Series(_hex_digits(raw).view("S40").ravel()).cast(pl.String)
    server = pl.Series(_EXCHANGE_SERVERS).gather(
        rng.integers(0, len(_EXCHANGE_SERVERS), size)
    )
    return pl.select(
        pl.concat_str(
            [
                pl.lit("<"),
                pl.lit(local).str.to_uppercase(),
                pl.lit("@"),
                pl.lit(server),
                pl.lit(">"),
            ]
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
        .then(
            pl.concat_str(
                "first", pl.lit("."), "last", pl.col("number").cast(pl.String)
            )
        )
        .otherwise(
            pl.concat_str("first", pl.lit("_"), "last", pl.col("year").cast(pl.String))
        )
    )
    address = pl.concat_str(local, pl.lit("@"), "domain")
    # A few people type their address with capitals; domains compare folded.
    shouted = pl.concat_str(
        local.str.to_titlecase(), pl.lit("@"), pl.col("domain").str.to_titlecase()
    )
    return frame.select(
        pl.when("shout").then(shouted).otherwise(address).alias("RecipientId")
    ).to_series()


# Pseudo-status used to draw the replies of transient failures (retries, ties).
_TRANSIENT: Final = len(_TERMINAL)


def _status_rows(
    world: _World,
    rng: np.random.Generator,
    messages: pl.DataFrame,
    recipients: pl.DataFrame,
    quirks: Quirks,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Status rows of a chunk, and the final statuses (for engagement).

    Every recipient of a message that is not pending reaches one terminal
    status; some pass through a transient failure first, some gain a tie.
    """
    fate = messages["_fate"].to_numpy()
    send = messages["_send"].to_numpy()
    recipient_fate = fate[recipients["_msg"].to_numpy()]
    is_list = recipients["_list"].to_numpy()
    final = recipients.filter(~is_list & (recipient_fate != _PENDING))
    status = _pick(rng, _cdf(_STATUS_MIX), final.height)
    final_send = send[final["_msg"].to_numpy()]
    latency = _latency(rng, status)
    retried = rng.random(final.height) < quirks.retry_rate
    pause = np.where(retried, rng.integers(60 * _TICKS, 1800 * _TICKS, final.height), 0)
    skewed = fate[final["_msg"].to_numpy()] == _SKEWED
    before = rng.integers(10_000, 2 * _TICKS, final.height)
    final_ticks = np.where(skewed, final_send - before, final_send + latency + pause)
    final = final.with_columns(_ticks=final_ticks, _status=status)
    parts = [
        _message_level_rows(rng, messages, final),
        _expanded_rows(rng, messages, recipients.filter(is_list)),
        _reply_rows(world, rng, final, status, quirks),
        _retry_rows(world, rng, final.filter(retried), pause[retried], quirks),
        _tie_rows(world, rng, messages, final, quirks),
    ]
    rows = pl.concat(parts, how="vertical").sort("_ticks", maintain_order=True)
    return _with_message(rows, messages, _STATUS_MESSAGE_COLUMNS), final


_STATUS_MESSAGE_COLUMNS: Final = ("SenderDomain", "SenderUsername", "InternetMessageId")
_STATUS_ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    "_msg": pl.Int64(),
    "_ticks": pl.Int64(),
    "OperationName": pl.String(),
    "RecipientId": pl.String(),
    "DeliveryStatus": pl.String(),
    "SmtpStatusCode": pl.String(),
    "EnhancedSmtpStatusCode": pl.String(),
    "IsHardBounce": pl.String(),
    "FailureReason": pl.String(),
    "FailureMessage": pl.String(),
    "RecipientMailServerHostName": pl.String(),
    "_has_message_id": pl.Boolean(),
}


def _latency(rng: np.random.Generator, status: _Ints) -> _Ints:
    """Ticks from send to terminal status: a lognormal body and a slow tail."""
    table = np.asarray(_LATENCY, dtype=np.float64)[status]
    floor, median, sigma, slow_share, slow_median, slow_sigma = table.T
    slow = rng.random(len(status)) < slow_share
    seconds = np.where(
        slow,
        rng.lognormal(np.log(slow_median), slow_sigma),
        floor + rng.lognormal(np.log(median), sigma),
    )
    return np.asarray(seconds * _TICKS, dtype=np.int64)


def _plain_rows(
    message: _Ints, ticks: _Ints, status: str, **columns: pl.Series
) -> pl.DataFrame:
    """Status rows that carry no reply: message-level and Expanded rows."""
    frame = pl.DataFrame(
        {"_msg": message, "_ticks": ticks},
        schema={"_msg": pl.Int64, "_ticks": pl.Int64},
    )
    values = {
        "OperationName": pl.lit("DeliveryStatusUpdate"),
        "DeliveryStatus": pl.lit(status),
        "_has_message_id": pl.lit(value=False),
        **{name: pl.lit(series) for name, series in columns.items()},
    }
    return frame.select(
        pl.col(name)
        if name in frame.columns
        else values.get(name, pl.lit("")).alias(name)
        for name in _STATUS_ROW_SCHEMA
    ).cast(pl.Schema(_STATUS_ROW_SCHEMA))


def _message_level_rows(
    rng: np.random.Generator, messages: pl.DataFrame, final: pl.DataFrame
) -> pl.DataFrame:
    """Rows with an empty RecipientId: blank states, Queued, OutForDelivery, Dropped."""
    fate = messages["_fate"].to_numpy()
    alive = ~((fate == _PENDING) & messages["_lost"].to_numpy())
    send = messages["_send"].to_numpy() - np.where(fate == _SKEWED, 3 * _TICKS, 0)
    index = np.arange(messages.height, dtype=np.int64)
    blanks = np.where(alive, _pick(rng, _cdf([0.15, 0.6, 0.25]), messages.height), 0)
    blank = np.repeat(index, blanks)
    queued = index[alive & (rng.random(messages.height) < 0.03)]
    out = index[alive & (rng.random(messages.height) < 0.97)]
    dropped = _all_suppressed(messages.height, final)
    # ACS also logs status look-ups with no DeliveryStatus (GetMessageStatus).
    lookup = pl.Series(["DeliveryStatusUpdate", "GetMessageStatus"]).gather(
        rng.integers(0, 2, len(blank))
    )
    hard = pl.Series(["False", ""]).gather(rng.integers(0, 2, len(out)))
    return pl.concat(
        [
            _plain_rows(
                blank,
                send[blank] + _offset(rng, 0.01, 0.5, blank),
                "",
                OperationName=lookup,
            ),
            _plain_rows(
                queued, send[queued] + _offset(rng, 0.2, 0.8, queued), "Queued"
            ),
            _plain_rows(
                out,
                send[out] + _offset(rng, 0.5, 1.0, out),
                "OutForDelivery",
                IsHardBounce=hard,
            ),
            _plain_rows(
                dropped, send[dropped] + _offset(rng, 1.0, 2.0, dropped), "Dropped"
            ),
        ]
    )


def _offset(rng: np.random.Generator, low: float, high: float, like: _Ints) -> _Ints:
    return rng.integers(int(low * _TICKS), int(high * _TICKS), len(like))


def _all_suppressed(count: int, final: pl.DataFrame) -> _Ints:
    """Messages whose every recipient was suppressed: ACS drops those whole."""
    message = final["_msg"].to_numpy()
    suppressed = final["_status"].to_numpy() == _SUPPRESSED
    total = np.bincount(message, minlength=count)
    hit = np.bincount(message, weights=suppressed, minlength=count)
    return np.flatnonzero((total > 0) & (hit == total)).astype(np.int64)


def _expanded_rows(
    rng: np.random.Generator, messages: pl.DataFrame, lists: pl.DataFrame
) -> pl.DataFrame:
    message = lists["_msg"].to_numpy()
    ticks = messages["_send"].to_numpy()[message] + _offset(rng, 0.3, 1.5, message)
    return _plain_rows(message, ticks, "Expanded", RecipientId=lists["RecipientId"])


def _reply_rows(
    world: _World,
    rng: np.random.Generator,
    rows: pl.DataFrame,
    reply_status: _Ints,
    quirks: Quirks,
) -> pl.DataFrame:
    """Recipient-level status rows with the server's reply filled in."""
    provider = world.domain_provider[rows["_domain"].to_numpy()]
    reply = _draw_replies(world, rng, reply_status, provider)
    detail = world.replies[reply]
    status = np.where(reply_status == _TRANSIENT, _FAILED, reply_status)
    blank_codes = detail["_text_codes"].to_numpy() & (
        rng.random(len(reply)) < quirks.code_in_text_rate
    )
    reaches = detail["_reaches"].to_numpy() & (status != _SUPPRESSED)
    host = world.domain_hosts.gather(
        rows["_domain"].to_numpy() * 4 + rng.integers(0, 4, len(reply))
    )
    frame = pl.DataFrame(
        {
            "_msg": rows["_msg"],
            "_ticks": rows["_ticks"],
            "RecipientId": rows["RecipientId"],
            "DeliveryStatus": pl.Series(_TERMINAL).gather(status),
            "_blank": blank_codes,
            "_reaches": reaches,
            "_host": host,
            "IsHardBounce": _spell_hard(rng, detail["_hard"].to_numpy()),
        }
    ).with_columns(detail.drop("_hard", "_reaches", "_text_codes"))
    return frame.select(
        "_msg",
        "_ticks",
        pl.lit("DeliveryStatusUpdate").alias("OperationName"),
        "RecipientId",
        "DeliveryStatus",
        *(
            pl.when("_blank").then(pl.lit("")).otherwise(name).alias(name)
            for name in ("SmtpStatusCode", "EnhancedSmtpStatusCode")
        ),
        "IsHardBounce",
        "FailureReason",
        pl.concat_str(
            "_before",
            pl.when("_names_rcpt").then("RecipientId").otherwise(pl.lit("")),
            "_after",
        ).alias("FailureMessage"),
        pl.when("_reaches")
        .then("_host")
        .otherwise(pl.lit(""))
        .alias("RecipientMailServerHostName"),
        (pl.col("DeliveryStatus") != "Suppressed").alias("_has_message_id"),
    )


def _draw_replies(
    world: _World, rng: np.random.Generator, status: _Ints, provider: _Ints
) -> _Ints:
    reply = np.zeros(len(status), dtype=np.int64)
    key = status * len(_PROVIDERS) + provider
    for group in np.unique(key):
        where = np.flatnonzero(key == group)
        indices, cdf = world.reply_groups[
            int(group) // len(_PROVIDERS), int(group) % len(_PROVIDERS)
        ]
        reply[where] = indices[_pick(rng, cdf, len(where))]
    return reply


def _spell_hard(rng: np.random.Generator, hard: _Ints) -> pl.Series:
    """Render IsHardBounce (1, 0, -1 for unset) the inconsistent ways ACS does."""
    options: list[str] = []
    index = np.zeros(len(hard), dtype=np.int64)
    for value, code in ((True, 1), (False, 0), (None, -1)):
        spellings = _HARD_SPELLINGS[value]
        where = np.flatnonzero(hard == code)
        cdf = _cdf([share for _, share in spellings])
        index[where] = len(options) + _pick(rng, cdf, len(where))
        options.extend(text for text, _ in spellings)
    return pl.Series(options, dtype=pl.String).gather(index)


def _retry_rows(
    world: _World,
    rng: np.random.Generator,
    retried: pl.DataFrame,
    pause: _Ints,
    quirks: Quirks,
) -> pl.DataFrame:
    """An earlier, transient failure for recipients that ACS retried."""
    earlier = retried.with_columns(_ticks=retried["_ticks"] - pause)
    status = np.full(earlier.height, _TRANSIENT, dtype=np.int64)
    return _reply_rows(world, rng, earlier, status, quirks)


def _tie_rows(
    world: _World,
    rng: np.random.Generator,
    messages: pl.DataFrame,
    final: pl.DataFrame,
    quirks: Quirks,
) -> pl.DataFrame:
    """A second, different terminal status at the very same tick.

    It goes to the first recipient of each message picked for a tie.
    """
    message = final["_msg"].to_numpy()
    _, first = np.unique(message, return_index=True)
    first = first[messages["_tie"].to_numpy()[message[first]]]
    tied = final[first]
    other = np.where(tied["_status"].to_numpy() == _DELIVERED, _TRANSIENT, _DELIVERED)
    return _reply_rows(world, rng, tied, other.astype(np.int64), quirks)


def _send_rows(
    rng: np.random.Generator, messages: pl.DataFrame, quirks: Quirks
) -> pl.DataFrame:
    """One send record per message that has one, plus the odd second record."""
    has_send = messages["_fate"].to_numpy() != _NO_SEND
    index = np.flatnonzero(has_send).astype(np.int64)
    again = index[rng.random(len(index)) < quirks.duplicate_send_rate]
    send = messages["_send"].to_numpy()
    message = np.concatenate([index, again])
    ticks = np.concatenate([send[index], send[again] + _offset(rng, 0.2, 90.0, again)])
    rows = pl.DataFrame({"_msg": message, "_ticks": ticks}).with_columns(
        OperationName=pl.lit("SendMail")
    )
    columns = (
        "Size",
        "ToRecipientsCount",
        "CcRecipientsCount",
        "BccRecipientsCount",
        "UniqueRecipientsCount",
        "AttachmentsCount",
        "TrafficSource",
    )
    return _with_message(rows.sort("_ticks", maintain_order=True), messages, columns)


def _engagement_rows(
    rng: np.random.Generator,
    messages: pl.DataFrame,
    final: pl.DataFrame,
    quirks: Quirks,
) -> pl.DataFrame:
    """Opens and clicks of delivered mail; repeats are normal."""
    delivered = final.filter(pl.col("_status") == _DELIVERED)
    engaged = rng.random(delivered.height) < quirks.engagement_rate
    views = np.where(engaged, rng.geometric(0.55, delivered.height), 0)
    clicks = np.where(
        engaged & (rng.random(delivered.height) < 0.3),
        rng.integers(1, 3, delivered.height),
        0,
    )
    source = np.concatenate(
        [
            np.repeat(np.arange(delivered.height), views),
            np.repeat(np.arange(delivered.height), clicks),
        ]
    ).astype(np.int64)
    is_click = np.arange(len(source)) >= views.sum()
    wait = rng.lognormal(np.log(np.where(is_click, 1500.0, 1200.0)), 1.5)
    kind = np.where(is_click, "Click", "View")
    # The Event Grid and SDK spell engagement types in lower case; logs seldom do.
    kind = np.where(rng.random(len(source)) < 0.02, np.char.lower(kind), kind)
    link = pl.Series(_LINKS).gather(rng.integers(0, len(_LINKS), len(source)))
    agent = pl.Series(_USER_AGENTS).gather(
        rng.integers(0, len(_USER_AGENTS), len(source))
    )
    picked = delivered[source]
    rows = pl.DataFrame(
        {
            "_msg": picked["_msg"],
            "_ticks": picked["_ticks"] + (wait * _TICKS).astype(np.int64),
            "OperationName": pl.Series(
                ["UserEngagementUpdate"] * len(source), dtype=pl.String
            ),
            "RecipientId": picked["RecipientId"],
            "EngagementType": pl.Series(kind.tolist(), dtype=pl.String),
            "_link": link,
            "_click": is_click,
            "UserAgent": agent,
        }
    )
    rows = rows.select(
        "_msg",
        "_ticks",
        "OperationName",
        "RecipientId",
        "EngagementType",
        pl.when("_click")
        .then("_link")
        .otherwise(pl.lit(""))
        .alias("EngagementContext"),
        "UserAgent",
    )
    rows = rows.sort("_ticks", maintain_order=True)
    return _with_message(rows, messages, ("InternetMessageId",))


def _with_message(
    rows: pl.DataFrame, messages: pl.DataFrame, columns: Sequence[str]
) -> pl.DataFrame:
    """Copy message attributes onto rows that point at a message by ``_msg``."""
    picked = messages.select("CorrelationId", "_res", *columns)[rows["_msg"]]
    frame = rows.drop("_msg").with_columns(picked)
    if "_has_message_id" in frame.columns:
        frame = frame.with_columns(
            InternetMessageId=pl.when("_has_message_id")
            .then("InternetMessageId")
            .otherwise(pl.lit(""))
        ).drop("_has_message_id")
    return frame


def _with_duplicates(
    rng: np.random.Generator, frame: pl.DataFrame, quirks: Quirks
) -> pl.DataFrame:
    """Add per-record draws every form shares, then the exact duplicates.

    The duplicates go after the chunk's rows, as a retried export appends them.
    """
    size = frame.height
    frame = frame.with_columns(
        _mixed=pl.Series(rng.random(size) < quirks.mixed_case_rate),
        # Diagnostic settings file records by when they arrived, not when
        # they happened; the delay pushes some into the next hour's blob.
        _delay=pl.Series(
            (rng.lognormal(np.log(90.0), 1.0, size) * _TICKS).astype(np.int64)
        ),
    )
    copies = frame.filter(pl.Series(rng.random(size) < quirks.duplicate_rate))
    return pl.concat([frame, copies])


# --------------------------------------------------------------------------
# Writing: each export form lays the same rows out its own way.
# --------------------------------------------------------------------------

_OPERATION_VERSION: Final = "2023-03-31"
_CONTENT: Final = {
    _SEND: (
        "Size",
        "ToRecipientsCount",
        "CcRecipientsCount",
        "BccRecipientsCount",
        "UniqueRecipientsCount",
        "AttachmentsCount",
        "TrafficSource",
    ),
    _STATUS: (
        "RecipientId",
        "DeliveryStatus",
        "SmtpStatusCode",
        "EnhancedSmtpStatusCode",
        "SenderDomain",
        "SenderUsername",
        "IsHardBounce",
        "FailureReason",
        "FailureMessage",
        "RecipientMailServerHostName",
        "InternetMessageId",
    ),
    _ENGAGEMENT: (
        "RecipientId",
        "EngagementType",
        "EngagementContext",
        "UserAgent",
        "InternetMessageId",
    ),
}
_COUNTS: Final = tuple(name for name in _CONTENT[_SEND] if name.endswith("Count"))
_API_TYPES: Final = {
    "TimeGenerated": "datetime",
    "Size": "real",
    "ToRecipientsCount": "int",
    "CcRecipientsCount": "int",
    "BccRecipientsCount": "int",
    "UniqueRecipientsCount": "int",
    "AttachmentsCount": "int",
}
_BLOB_LINES: Final = 50_000  # a data-export blob takes this many appends
_DOCUMENT_ROWS: Final = 20_000  # one query result stays well under API limits
_FIVE_MINUTES: Final = 300 * _TICKS
_HOUR: Final = 3600 * _TICKS


def _iso(ticks: pl.Expr) -> pl.Expr:
    """ISO 8601 with all seven fractional digits and a ``Z``, as Azure writes."""
    whole = pl.from_epoch(ticks // _EPOCH_TICKS_PER_US, "us").dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    fraction = (ticks % _TICKS).cast(pl.String).str.zfill(7)
    return pl.concat_str(whole, pl.lit("."), fraction, pl.lit("Z"))


def _portal_time(ticks: pl.Expr) -> pl.Expr:
    """The portal grid's US-locale text: ``2/10/2026, 4:00:00.123 PM``."""
    moment = pl.from_epoch(ticks // _EPOCH_TICKS_PER_US, "us")
    return moment.dt.strftime("%-m/%-d/%Y, %-I:%M:%S%.3f %p")


def _parquet_time(ticks: pl.Expr) -> pl.Expr:
    moment = pl.from_epoch(ticks * 100, "ns")
    return moment.dt.replace_time_zone("UTC")


def _la_frame(
    world: _World, table: str, frame: pl.DataFrame, time: Callable[[pl.Expr], pl.Expr]
) -> pl.DataFrame:
    """The rows as Log Analytics columns, in the workspace's column order."""
    codes = list(range(len(world.resource_ids)))
    lower = [resource.lower() for resource in world.resource_ids]
    resource = pl.col("_res")
    return frame.select(
        pl.lit(world.tenant).alias("TenantId"),
        time(pl.col("_ticks")).alias("TimeGenerated"),
        resource.replace_strict(codes, world.locations, return_dtype=pl.String).alias(
            "Location"
        ),
        "OperationName",
        pl.lit(_OPERATION_VERSION).alias("OperationVersion"),
        pl.lit(_CATEGORY[table]).alias("Category"),
        "CorrelationId",
        *_CONTENT[table],
        pl.lit("Azure").alias("SourceSystem"),
        pl.lit(table).alias("Type"),
        pl.when("_mixed")
        .then(
            resource.replace_strict(codes, world.resource_ids, return_dtype=pl.String)
        )
        .otherwise(resource.replace_strict(codes, lower, return_dtype=pl.String))
        .alias("_ResourceId"),
    )


def _union_columns() -> list[str]:
    """Columns of ``union`` over the three tables, in the order KQL gives them."""
    columns = ["TenantId", "TimeGenerated", "Location", "OperationName"]
    columns += ["OperationVersion", "Category", "CorrelationId"]
    for table in _TABLES:
        columns += [name for name in _CONTENT[table] if name not in columns]
    return [*columns, "SourceSystem", "Type", "_ResourceId"]


def _union_frame(world: _World, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """A ``union`` query's result: every table's rows under the union columns.

    Log Analytics has no null strings, so a column a table lacks reads as an
    empty string, while a missing number is a real null.
    """
    frames = [_la_frame(world, name, tables[name], _iso) for name in _TABLES]
    union = pl.concat(frames, how="diagonal_relaxed").select(_union_columns())
    strings = [name for name, dtype in union.schema.items() if dtype == pl.String]
    return union.with_columns(pl.col(strings).fill_null(""))


# Bytes handed to the disk thread but not yet written, at most.
_QUEUED_BYTES: Final = 256 * 1024 * 1024
# Files kept open between appends: opening is slow on some file systems, and
# late statuses and opens keep touching the same few hundred blobs.
_OPEN_FILES: Final = 256


class _Writer:
    """Base of the form writers: where files go and which were written.

    One thread does all the appending, in the order asked, so files come out
    the same every run while the next chunk is built during the writing.
    """

    def __init__(self, out_dir: Path, world: _World) -> None:
        self.out_dir = out_dir
        self.world = world
        self.paths: dict[Path, None] = {}
        self.folders: set[Path] = set()
        self.disk = ThreadPoolExecutor(max_workers=1)
        self.handles: dict[Path, BinaryIO] = {}
        self.queued: deque[tuple[Future[None], int]] = deque()
        self.queued_bytes = 0

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        raise NotImplementedError

    def close(self) -> list[Path]:
        while self.queued:
            self._settle()
        self.disk.submit(self._close_files).result()
        self.disk.shutdown()
        return sorted(self.paths)

    def _append(self, path: Path, data: bytes | memoryview) -> None:
        self.paths[path] = None
        self.queued.append((self.disk.submit(self._write, path, data), len(data)))
        self.queued_bytes += len(data)
        while self.queued_bytes > _QUEUED_BYTES:
            self._settle()

    def _settle(self) -> None:
        future, size = self.queued.popleft()
        future.result()
        self.queued_bytes -= size

    def _write(self, path: Path, data: bytes | memoryview) -> None:
        handle = self.handles.pop(path, None)
        if handle is None:
            if path.parent not in self.folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(path.parent)
            handle = path.open("ab")
            if len(self.handles) >= _OPEN_FILES:
                self.handles.pop(next(iter(self.handles))).close()
        # Reinserted last, so the dict's first entry is the least recently used.
        self.handles[path] = handle
        handle.write(data)

    def _close_files(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


def _stamp(ticks: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)


def _encoded(frame: pl.DataFrame, how: str) -> memoryview:
    """The rows as JSON Lines (``ndjson``) or as bare lines of text (``lines``).

    ``lines`` writes each value of a one-column frame as it is, one per line:
    CSV rows already quoted, or JSON records already encoded.
    """
    buffer = io.BytesIO()
    if how == "ndjson":
        frame.write_ndjson(buffer)
    else:
        frame.write_csv(buffer, include_header=False, quote_style="never")
    return buffer.getbuffer()


def _line_starts(data: memoryview) -> _Ints:
    """Offsets where each JSON line starts, and the end of the last.

    JSON escapes newlines inside values, so every newline ends a record.
    """
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1
    return np.concatenate([[0], ends]).astype(np.int64)


# Slices this small keep each encoding buffer within what the allocator
# recycles, which spares the kernel from faulting in fresh pages every time.
_PIECE_ROWS: Final = 10_000


def _encoded_pieces(frame: pl.DataFrame, how: str) -> Iterator[tuple[int, memoryview]]:
    """Encode slices of ``frame`` side by side; yield ``(first row, bytes)`` in order.

    Polars encodes on one thread per call and releases the GIL while it does,
    so slices encoded in parallel keep every core busy.
    """
    starts = range(0, frame.height, _PIECE_ROWS)
    workers = max(1, min(pl.thread_pool_size(), len(starts)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        encoded = pool.map(
            lambda at: _encoded(frame.slice(at, _PIECE_ROWS), how), starts
        )
        yield from zip(starts, encoded, strict=True)


def _runs(keys: _Ints) -> Iterator[tuple[int, int, int]]:
    """``(key, first, stop)`` for each run of equal keys in sorted ``keys``."""
    if len(keys) == 0:
        return
    change = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(keys)]])
    for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        yield int(keys[first]), first, stop


class _DataExportWriter(_Writer):
    """JSON Lines of table rows, as a workspace data-export rule writes them.

    Blobs go by ``TimeGenerated`` into five-minute folders per table, and a blob
    that has taken its 50,000 appends is continued in ``PT05M_1.json`` and on.
    """

    def __init__(self, out_dir: Path, world: _World) -> None:
        super().__init__(out_dir, world)
        self.blobs: dict[Path, tuple[int, int]] = {}

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        for table, frame in tables.items():
            bucket = frame["_ticks"].to_numpy() // _FIVE_MINUTES
            order = np.argsort(bucket, kind="stable")
            keys = bucket[order]
            rows = _la_frame(self.world, table, frame[order], _iso)
            for at, data in _encoded_pieces(rows, "ndjson"):
                starts = _line_starts(data)
                for key, first, stop in _runs(keys[at : at + _PIECE_ROWS]):
                    folder = self._folder(table, key)
                    self._append_rolled(folder, data, starts, first, stop)

    def _folder(self, table: str, bucket: int) -> Path:
        moment = _stamp(bucket * _FIVE_MINUTES)
        return (
            self.out_dir
            / f"am-{table.lower()}"
            / f"WorkspaceResourceId={self.world.workspace}"
            / f"y={moment:%Y}/m={moment:%m}/d={moment:%d}/h={moment:%H}/m={moment:%M}"
        )

    def _append_rolled(
        self, folder: Path, data: memoryview, starts: _Ints, first: int, stop: int
    ) -> None:
        while first < stop:
            part, used = self.blobs.get(folder, (0, 0))
            end = min(stop, first + _BLOB_LINES - used)
            name = "PT05M.json" if part == 0 else f"PT05M_{part}.json"
            piece = data[starts[first] : starts[end]]
            self._append(folder / name, piece)
            used += end - first
            self.blobs[folder] = (part + 1, 0) if used >= _BLOB_LINES else (part, used)
            first = end


class _ArchiveWriter(_Writer):
    """Resource-log records, as a diagnostic setting archives them to Storage.

    One blob per category, resource and hour of arrival; camelCase envelope,
    the table's own fields inside ``properties``, resource ids in upper case.
    """

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        hours_per_resource = 1 << 40
        upper = [resource.upper() for resource in self.world.resource_ids]
        for table, frame in tables.items():
            arrived = frame.with_columns(
                _key=pl.col("_res") * hours_per_resource
                + (pl.col("_ticks") + pl.col("_delay")) // _HOUR
            )
            # Records of different shapes share blobs, so each is encoded to
            # its line first and the lines are then sorted into their blobs.
            lines = pl.concat(
                self._records(table, arrived.filter(condition), fields)
                for condition, fields in _archive_shapes(table)
            ).sort("_key", maintain_order=True)
            keys = lines["_key"].to_numpy()
            for at, data in _encoded_pieces(lines.select("line"), "lines"):
                starts = _line_starts(data)
                for key, first, stop in _runs(keys[at : at + _PIECE_ROWS]):
                    resource, hour = divmod(key, hours_per_resource)
                    path = self._blob(table, upper[resource], hour)
                    self._append(path, data[starts[first] : starts[stop]])

    def _records(
        self, table: str, frame: pl.DataFrame, fields: Sequence[str]
    ) -> pl.DataFrame:
        codes = list(range(len(self.world.resource_ids)))
        upper = [resource.upper() for resource in self.world.resource_ids]
        hard = pl.col("IsHardBounce").str.to_lowercase()
        properties = [
            pl.col("OperationName").alias("OperationType"),
            pl.lit(_CATEGORY[table]).alias("OperationCategory"),
            *(
                # The raw log holds a JSON boolean; Log Analytics turns it into text.
                pl.when(hard == "true")
                .then(pl.lit(value=True))
                .when(hard == "false")
                .then(pl.lit(value=False))
                .alias(name)
                if name == "IsHardBounce"
                else pl.col(name)
                for name in fields
            ),
        ]
        resource = pl.col("_res")
        record = pl.struct(
            _iso(pl.col("_ticks")).alias("time"),
            resource.replace_strict(codes, upper, return_dtype=pl.String).alias(
                "resourceId"
            ),
            pl.col("OperationName").alias("operationName"),
            pl.lit(_OPERATION_VERSION).alias("operationVersion"),
            pl.lit(_CATEGORY[table]).alias("category"),
            pl.col("CorrelationId").alias("correlationId"),
            resource.replace_strict(
                codes, self.world.locations, return_dtype=pl.String
            ).alias("location"),
            pl.struct(properties).alias("properties"),
        )
        return frame.select(record.struct.json_encode().alias("line"), "_key")

    def _blob(self, table: str, resource: str, hour: int) -> Path:
        moment = _stamp(hour * _HOUR)
        return (
            self.out_dir
            / f"insights-logs-{_CATEGORY[table].lower()}"
            / f"resourceId={resource}"
            / f"y={moment:%Y}/m={moment:%m}/d={moment:%d}/h={moment:%H}/m=00/PT1H.json"
        )


def _archive_shapes(table: str) -> list[tuple[pl.Expr, tuple[str, ...]]]:
    """Which properties each kind of record carries in a raw resource log.

    Message-level status records have no RecipientId key at all, and views no
    EngagementContext, as the published samples show.
    """
    if table == _STATUS:
        message_level = pl.col("RecipientId") == ""
        short = ("DeliveryStatus", "FailureReason", "IsHardBounce")
        return [
            (message_level, (*short, "SenderDomain", "SenderUsername")),
            (~message_level, _CONTENT[_STATUS]),
        ]
    if table == _ENGAGEMENT:
        click = pl.col("EngagementContext") != ""
        fields = _CONTENT[_ENGAGEMENT]
        return [
            (~click, tuple(name for name in fields if name != "EngagementContext")),
            (click, fields),
        ]
    return [(pl.lit(value=True), _CONTENT[_SEND])]


class _PortalCsvWriter(_Writer):
    """The portal's "Export to CSV - all columns": one file per table.

    Datetimes are locale text under a `` [UTC]`` header, text with anything but
    letters and digits is quoted, and the file starts with a byte-order mark.
    """

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        for table, frame in tables.items():
            rows = _la_frame(self.world, table, frame, _portal_time)
            path = self.out_dir / f"{table}.csv"
            if path not in self.paths:
                header = ",".join(
                    _csv_text(f"{name} [UTC]" if name == "TimeGenerated" else name)
                    for name in rows.columns
                )
                self._append(path, f"\ufeff{header}\n".encode())
            line = pl.concat_str(
                [
                    _csv_quote(name) if dtype == pl.String else pl.col(name)
                    for name, dtype in rows.schema.items()
                ],
                separator=",",
            )
            for _, data in _encoded_pieces(rows.select(line.alias("line")), "lines"):
                self._append(path, data)


def _csv_text(text: str) -> str:
    if text.isalnum() or not text or text.replace("_", "").isalnum():
        return text
    return '"' + text.replace('"', '""') + '"'


def _csv_quote(name: str) -> pl.Expr:
    """Quote a text column the way the portal does: all but plain words."""
    column = pl.col(name)
    escaped = column.str.replace_all('"', '""', literal=True)
    quoted = pl.concat_str(pl.lit('"'), escaped, pl.lit('"'))
    plain = column.str.contains(r"^[A-Za-z0-9_]*$")
    return pl.when(plain).then(column).otherwise(quoted).alias(name)


class _CliJsonWriter(_Writer):
    """``az monitor log-analytics query`` output: a JSON array of row objects.

    The CLI turns every value into text with Python's ``str``, so numbers are
    quoted, null reads ``"None"``, and each row starts with ``TableName``.
    """

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        union = _union_frame(self.world, tables).select(
            pl.lit("PrimaryResult").alias("TableName"),
            pl.all().cast(pl.String).fill_null("None"),
        )
        members = [
            pl.struct(name)
            .struct.json_encode()
            .str.strip_prefix("{")
            .str.strip_suffix("}")
            .str.replace('":', '": ', literal=True)
            for name in union.columns
        ]
        body = union.select(
            pl.concat_str(
                pl.lit("  {\n    "),
                pl.concat_str(members, separator=",\n    "),
                pl.lit("\n  }"),
            ).alias("row")
        )
        for start in range(0, max(body.height, 1), _DOCUMENT_ROWS):
            rows = body["row"].slice(start, _DOCUMENT_ROWS).str.join(",\n").item()
            text = f"[\n{rows}\n]\n" if rows else "[]\n"
            path = self.out_dir / f"query-{len(self.paths):05d}.json"
            self._append(path, text.encode())


class _QueryApiWriter(_Writer):
    """The Log Analytics query API's response: typed columns, positional rows."""

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        union = _union_frame(self.world, tables)
        columns = [
            {"name": name, "type": _API_TYPES.get(name, "string")}
            for name in union.columns
        ]
        values = [
            pl.struct(name)
            .struct.json_encode()
            .str.strip_prefix('{"' + name + '":')
            .str.strip_suffix("}")
            for name in union.columns
        ]
        body = union.select(
            pl.concat_str(
                pl.lit("["), pl.concat_str(values, separator=","), pl.lit("]")
            )
        ).to_series()
        head = '{"tables":[{"name":"PrimaryResult","columns":' + _compact(columns)
        for start in range(0, max(len(body), 1), _DOCUMENT_ROWS):
            rows = body.slice(start, _DOCUMENT_ROWS).str.join(",").item()
            text = f'{head},"rows":[{rows}]}}]}}\n'
            path = self.out_dir / f"query-{len(self.paths):05d}.json"
            self._append(path, text.encode())


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class _ParquetWriter(_Writer):
    """Parquet with Log Analytics columns and types, one file per table."""

    def __init__(self, out_dir: Path, world: _World) -> None:
        super().__init__(out_dir, world)
        # pyarrow has no type hints, so its writers are Any to mypy.
        self.writers: dict[str, Any] = {}

    def write(self, tables: dict[str, pl.DataFrame]) -> None:
        import pyarrow.parquet as pq

        for table, frame in tables.items():
            rows = _la_frame(self.world, table, frame, _parquet_time)
            if table == _SEND:
                # Log Analytics counts are 32-bit ``int`` columns.
                rows = rows.with_columns(pl.col(_COUNTS).cast(pl.Int32))
            arrow = rows.to_arrow()
            if table not in self.writers:
                path = self.out_dir / f"{table}.parquet"
                path.parent.mkdir(parents=True, exist_ok=True)
                self.writers[table] = pq.ParquetWriter(path, arrow.schema)
                self.paths[path] = None
            self.writers[table].write_table(arrow)

    def close(self) -> list[Path]:
        for writer in self.writers.values():
            writer.close()
        return super().close()


_WRITERS: Final[dict[str, type[_Writer]]] = {
    "ndjson": _DataExportWriter,
    "csv": _PortalCsvWriter,
    "json": _CliJsonWriter,
    "archive": _ArchiveWriter,
    "api": _QueryApiWriter,
    "parquet": _ParquetWriter,
}


def generate(
    out_dir: Path,
    *,
    messages: int,
    seed: int = 0,
    form: str = "ndjson",
    quirks: Quirks | None = None,
    chunk_size: int = 50_000,
    start: datetime = DEFAULT_START,
    hours: float = 24.0,
    resources: int = 3,
) -> list[Path]:
    """Write a synthetic ACS Email export and return the files written.

    Parameters
    ----------
    out_dir
        Directory to write into; it must be empty or not exist yet.
    messages
        How many messages to send. Recipients, statuses and engagement follow.
    seed
        Seed of every random draw: the same seed and arguments give
        byte-identical files.
    form
        One of :data:`FORMS`: ``ndjson`` (data-export rule), ``csv`` (portal
        export), ``json`` (``az`` CLI), ``archive`` (diagnostic settings to
        Storage), ``api`` (query API response) or ``parquet``.
    quirks
        Rates of the imperfections to inject; :class:`Quirks` defaults if None.
    chunk_size
        Messages generated and written at a time; bounds the memory used.
    start
        When the first message may be sent (UTC).
    hours
        Over how many hours sends are spread; statuses and opens run later.
    resources
        How many ACS resources (1 to 5) share the traffic.

    Returns
    -------
    list of Path
        Every file written, sorted.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     files = generate(Path(folder), messages=100, form="csv")
    ...     [path.name for path in files]
    ['ACSEmailSendMailOperational.csv', 'ACSEmailStatusUpdateOperational.csv', \
'ACSEmailUserEngagementOperational.csv']
    """
    _check(out_dir, messages, form, chunk_size, hours, resources)
    quirks = quirks or Quirks()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    world = _build_world(seed, resources, start, hours, messages)
    writer = _WRITERS[form](out_dir, world)
    try:
        for index, first in enumerate(range(0, messages, chunk_size)):
            seeds = np.random.SeedSequence(seed, spawn_key=(index,))
            count = min(chunk_size, messages - first)
            writer.write(
                _chunk(world, np.random.default_rng(seeds), first, count, quirks)
            )
    finally:
        # Written or not, every file is flushed and closed.
        files = writer.close()
    return files


def _check(
    out_dir: Path,
    messages: int,
    form: str,
    chunk_size: int,
    hours: float,
    resources: int,
) -> None:
    if form not in FORMS:
        msg = f"unknown form {form!r}; expected one of {', '.join(FORMS)}"
        raise AcsmailError(msg)
    if messages < 1 or chunk_size < 1:
        msg = "messages and chunk size must be at least 1"
        raise AcsmailError(msg)
    if hours <= 0:
        msg = f"hours must be positive, got {hours}"
        raise AcsmailError(msg)
    if not 1 <= resources <= len(_RESOURCES):
        msg = f"resources must be between 1 and {len(_RESOURCES)}, got {resources}"
        raise AcsmailError(msg)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        msg = f"{out_dir}: output directory must be empty or absent"
        raise AcsmailError(msg)

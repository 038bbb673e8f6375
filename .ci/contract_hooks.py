"""Schemathesis hooks for the contract test (scripts/contract), loaded by .ci/schemathesis.toml.

The document says what every field may hold: formats, lengths, ranges, enums, patterns. A few
rules cannot be said in JSON Schema: whether an id names something that exists in the
organisation, rules across fields (a logged call is never public), and the policy's own
checks (a calendar's time zone, a rule naming a calendar, a rung naming a team).

So this check stands in for Schemathesis's `positive_data_acceptance` (which scripts/contract
excludes): a schema-valid request may be answered 2xx, 3xx, 401, 403, 404, 409, 429 (or 5xx,
which `not_a_server_error` fails), as there; a 400 or 422 only when every field the problem
names, with its message, is one of the rules listed here for that operation; any other status
fails. A refusal the document could have stated fails the run.
"""

import re

import schemathesis
from hypothesis.internal import lambda_sources
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

# Debian 12's Python 3.11 can raise `SystemError: AST constructor recursion depth mismatch`
# from `ast.parse` deep in a call stack (python/cpython#106905), where Hypothesis, describing
# a lambda of Schemathesis's for a strategy's repr, expects at worst a `SyntaxError`. The
# description is cosmetic: give the one Hypothesis uses when it cannot tell.
_describe_lambda = lambda_sources._lambda_description


def _describe_lambda_or_say_unknown(f, *args, **kwargs):
    try:
        return _describe_lambda(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources._lambda_description = _describe_lambda_or_say_unknown

# `POST /inbound/email` takes one raw message (`message/rfc822`), which is text: generated
# strings go out as UTF-8, as `text/plain` bodies do.
schemathesis.serializer.alias("message/rfc822", "text/plain")

UNKNOWN_USER = r"^no user with id "
UNKNOWN_TEAM = r"^no team with id "
UNKNOWN_TICKET = r"^no ticket with id "
UNKNOWN_CUSTOMER = r"^no customer with id "
POLICY_FIELD = r"^(policy\.)?(calendars|rules|triggers)(\[|\.|$)"

# Operation label -> [(field pattern, detail pattern)]: the rules the schema cannot express.
RULES = {
    "POST /api/v1/teams": [(r"^members\[\d+\]$", UNKNOWN_USER)],
    "POST /api/v1/tickets": [
        (r"^customer_id$", UNKNOWN_CUSTOMER),
        (r"^assignee_id$", UNKNOWN_USER),
        (r"^team_id$", UNKNOWN_TEAM),
    ],
    "PATCH /api/v1/tickets/{id}": [
        (r"^assignee_id$", UNKNOWN_USER),
        (r"^team_id$", UNKNOWN_TEAM),
    ],
    "POST /api/v1/tickets/{id}/comments": [
        # Across fields: a logged call is a staff record, never sent to the customer.
        (r"^logged_call$", r"set public to false"),
    ],
    "POST /api/v1/tickets/{id}/escalate": [
        (r"^target\.id$", UNKNOWN_USER + "|" + UNKNOWN_TEAM),
    ],
    "POST /api/v1/tickets/{id}/links": [(r"^to_ticket_id$", UNKNOWN_TICKET)],
    "POST /api/v1/tickets/{id}/watchers": [(r"^user_id$", UNKNOWN_USER)],
    "POST /api/v1/escalations/{id}/resolve": [
        # Across fields: no compensation is an amount of 0.
        (r"^compensation\.amount$", r"must be 0 when the kind is none"),
    ],
    "POST /api/v1/webhooks": [
        # Whether the address parses as http(s), resolves, and is not loopback or private is
        # decided when it is registered.
        (r"^url$", r""),
    ],
    "GET /api/v1/metrics/escalations": [
        # Dates read in the policy's time zone, `to` after `from`, at most 366 days.
        (r"^(from|to)$", r""),
    ],
    "GET /api/v1/tickets": [
        # Across parameters: a cursor continues the list it came from, ranked by `q`'s words
        # or newest first, and not the other.
        (r"^cursor$", r"^belongs to a list with other words in q"),
        # A query must hold a letter or a digit in Unicode's sense (Rust's
        # `char::is_alphanumeric`): `\p{L}` and `\p{N}` are in neither ECMA 262 patterns
        # without the `u` flag nor Python's `re`, so the document cannot say it portably.
        (r"^q$", r"^has no word to search for \(letters or digits\)$"),
    ],
    "POST /api/v1/inbound/email": [
        # Whether a text is an RFC 5322 message with a From address is a grammar, not a
        # pattern the document can give.
        (r"^message$", r"^(the message is empty|not an RFC 5322 message|the message has no header fields)$"),
        (r"^From$", r"^the (message has no From address|From header holds no email address)$"),
    ],
    "PUT /api/v1/policy": [(POLICY_FIELD, r"")],
    "POST /api/v1/policy/simulate": [(POLICY_FIELD, r"")],
}

# Every operation with a body: a NUL anywhere in it, even in a property the server ignores
# (the schemas leave objects open where serde ignores unknown fields), is refused, because
# PostgreSQL cannot store one and the check runs before anything reads the body.
EVERYWHERE = [(r"", r"must not contain the control character U\+0000$")]


def _problems(response):
    try:
        body = response.json()
    except Exception:
        return None
    if not isinstance(body, dict):
        return None
    found = [(body.get("field") or "", body.get("detail") or "")]
    for e in body.get("errors") or []:
        found.append((e.get("field") or "", e.get("detail") or ""))
    return found


ACCEPTED = (401, 403, 404, 409, 429)


@schemathesis.check
def valid_requests_are_refused_only_for_rules_the_schema_cannot_state(ctx, response, case):
    """A schema-valid request is accepted, or refused for a listed rule."""
    meta = case.meta
    if meta is None or is_unexpected_http_status_case(case):
        return None
    status = response.status_code
    if not meta.generation.mode.is_positive or status < 400 or status >= 500 or status in ACCEPTED:
        return None
    rules = RULES.get(case.operation.label, []) + EVERYWHERE if status in (400, 422) else []
    problems = _problems(response) or [("", "")]
    for field, detail in problems:
        if not any(re.search(f, field) and re.search(d, detail) for f, d in rules):
            raise AssertionError(
                f"Valid data should have been accepted: {status} for {field or 'the request'!r} "
                f"({detail}), which is not a rule the document cannot state"
            )
    return None

"""Checks schemathesis adds to its own for cohandle's conformance run (deploy/dev/conformance.sh).

A request the document allows must never be refused as malformed: a problem code that says
"this request does not match the contract" on a request generated from the contract means
the document promises what the server refuses (an enum spelt otherwise, a bound or pattern
left out). Refusals of the workflow (403, 404, 409, engine codes in 422) are answers, not
contract breaches, and pass.
"""

import json

import schemathesis

# The codes the server gives a request that does not match the document.
SHAPE_CODES = {
    "body_invalid",
    "body_malformed",
    "body_not_json",
    "body_unreadable",
    "path_invalid",
    "query_invalid",
    "idempotency_key_invalid",
    "idempotency_key_missing",
    "no_such_route",
    "method_not_allowed",
}


@schemathesis.check
def schema_valid_requests_are_not_refused_as_malformed(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code < 400 or response.status_code >= 500:
        return None
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    if code in SHAPE_CODES:
        raise AssertionError(
            f"a request the document allows was refused as {code} "
            f"({response.status_code}): {response.content[:300]!r}"
        )
    return None

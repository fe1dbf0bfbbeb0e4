"""Schemathesis hooks of scripts/contract-test.sh.

The local Lambda runtime (`cargo lambda watch`) answers a request whose body is not UTF-8
with its own 500 before any function runs: it builds the API Gateway event's body as text.
API Gateway itself base64-encodes such a body (`isBase64Encoded`), and the functions answer
it with a 400 envelope (see the integration test
`cctv_api::a_body_that_is_not_utf8_is_a_400_through_api_gateway`). So the fuzzer does not
send bodies that are not UTF-8 here: they would only test the emulator.
"""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True

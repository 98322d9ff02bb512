"""`python -m sms_gateway.cli`: the same as the `permit-gateway` command."""

import sys

from sms_gateway.cli import main

sys.exit(main())

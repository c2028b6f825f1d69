"""tests/security reuses the raw socket client and server helpers of tests/reliability."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))

#!/usr/bin/env python3
"""CDK entry point (`cdk synth` runs this). The app itself is built in corridor_cdk/app_factory.py."""

import os
import sys
from pathlib import Path

# jsii runs the CDK library on the first `node` in PATH: prefer the supported Node.js
# that `npm ci` put in node_modules, however the CDK CLI was started.
_NODE_BIN = Path(__file__).resolve().parent / "node_modules" / ".bin"
if _NODE_BIN.is_dir():
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

from corridor_cdk.app_factory import main  # noqa: E402  (PATH must be set before jsii starts)

if __name__ == "__main__":
    sys.exit(main())

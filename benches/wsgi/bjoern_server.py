"""Runs one app of apps.py under bjoern: bjoern_server.py APP PORT."""
import sys

import bjoern

import apps

bjoern.run(getattr(apps, sys.argv[1]), "127.0.0.1", int(sys.argv[2]))

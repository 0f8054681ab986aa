"""Runs moto server (the local AWS) until the process that started it closes our stdin.

Tests and the demo start moto through this wrapper with a pipe on stdin: when they exit, even
by a crash or a kill, the pipe closes and moto exits too, so no server is ever left behind.
Usage: moto_server.py -H 127.0.0.1 -p PORT
"""
import os
import sys
import threading

from moto.server import main


def exit_when_parent_goes():
    sys.stdin.read()  # returns at end of file: the parent is gone
    os._exit(0)


threading.Thread(target=exit_when_parent_goes, daemon=True).start()
main(sys.argv[1:])

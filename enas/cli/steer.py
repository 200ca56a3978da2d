"""`python -m enas steer RUN ...`: change a running search from another process (its inbox, `enas.steering`).

    python -m enas steer RUN --ban maxpool3x3@3 --temperature 3      # ban an op at node 3, a new temperature
    python -m enas steer RUN --unban maxpool3x3@3 --pin conv3x3@2 --skip 3:1=on --clear --pause --step

The request is checked against the run's space, the fields' ranges and the constraints in force before it is
sent; then the command waits (up to --wait seconds) for the run to apply it and prints what changed.
"""
from __future__ import annotations

import getpass
import os
import socket
import time

from enas.steering import STEERABLE, Inbox, SteerError, steering_now
from enas.runs.store import LIVE, RunStore, StoreError, check_name

CONTROLS = ("pause", "resume", "step")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_steer_parser(sub):
    st = sub.add_parser("steer", help="change a running search: ban or pin ops, force skips, change settings, "
                        "pause, resume or single-step it (from any process)")
    st.add_argument("run")
    for verb, meta, what in (("ban", "OP[@NODE]", "ban an op at a node (every node without @NODE)"),
                             ("unban", "OP[@NODE]", "lift a ban"), ("pin", "OP@NODE", "node NODE may take only OP"),
                             ("unpin", "NODE", "lift a pin"), ("skip", "I:J=on|off", "force node I's skip from J on "
                                                                "or off"), ("free", "I:J", "lift a forced skip")):
        st.add_argument(f"--{verb}", action="append", default=[], metavar=meta, help=what + " (repeatable)")
    st.add_argument("--clear", action="store_true", help="lift every constraint")
    for name, what in STEERABLE.items():
        st.add_argument(_flag(name), dest=f"set_{name}", metavar="VALUE", help=what)
    control = st.add_mutually_exclusive_group()
    for name, what in (("pause", "pause the run"), ("resume", "resume it"),
                       ("step", "while paused: one more child or controller step, then pause again")):
        control.add_argument(f"--{name}", dest="control", action="store_const", const=name, help=what)
    st.add_argument("--wait", type=float, default=30.0, metavar="S",
                    help="seconds to wait for the run to apply it (default 30; 0: send and return)")


def request_of(args) -> dict:
    """The steering request the flags ask for, in order: clear, constraints, settings; and a control."""
    changes = [f"{verb} {arg}" for verb in ("ban", "unban", "pin", "unpin", "skip", "free") for arg in getattr(args, verb)]
    values = {n: getattr(args, f"set_{n}") for n in STEERABLE if getattr(args, f"set_{n}") is not None}
    request = {k: v for k, v in (("clear", args.clear), ("constraints", changes), ("set", values)) if v}
    if not request and not args.control:
        raise SteerError("nothing to steer: give a change (e.g. --ban maxpool3x3@3, --temperature 3) or --pause, "
                         "--resume, --step; see python -m enas steer --help")
    return request


def cmd_steer(args, runs_dir) -> int:
    check_name(args.run)
    store = RunStore.open(runs_dir, args.run)
    status, config = store.status(), store.config()
    if status not in LIVE:
        raise StoreError(f"run {args.run} is not running (status {status}): only a running or paused search can "
                         "be steered")
    request = request_of(args)
    if request:   # refused here, before sending, when it cannot apply
        _, changes = steering_now(store, config).change(request, config)
        if not changes and not args.control:
            print(f"nothing changes: {args.run} already runs with that")
            return 0
    if args.control:
        request["control"] = args.control
    who = f"cli ({getpass.getuser()}@{socket.gethostname()}, pid {os.getpid()})"
    inbox = Inbox(store.path)
    rid = inbox.put(request, who)
    deadline = time.monotonic() + args.wait
    while args.wait and inbox.pending(rid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if inbox.pending(rid):
        print(f"sent to {args.run}" + ("" if not args.wait else f"; not applied within {args.wait:g} s (the run "
                                       "applies it before its next step)"))
        return 0
    for ev in store.events("steer_refused"):
        if ev.get("request") == rid:
            raise SteerError(f"{args.run} refused it: {ev['message']}")
    for ev in store.events("steer"):
        if ev.get("request") == rid:
            for c in ev["changes"]:
                print(f"{c['what']}: {c['old']} -> {c['new']}")
    if args.control:
        print(f"{args.control}: sent")
    return 0

#!/usr/bin/env python3
"""Stagelink's proofs against the real binary and a standalone sandbox.

    python3 Tests/Proof/proof.py crash [--full] [--seed N]   # SIGKILL at every named point and at random
    python3 Tests/Proof/proof.py crash --store postgres --url postgres://…   # two services, the lease holder killed
    python3 Tests/Proof/proof.py soak  [--full] [--seed N]   # 10% failing calls, then a clean cycle; log checks
    python3 Tests/Proof/proof.py all   [--full]              # both

The CI size runs in a few minutes; --full is the long run (see docs/proof.md). The binary is
the release build (`swift build -c release --product stagelink`) unless --binary names another.
Each proof prints what it did and every problem found, writes a JSON report, and exits 1 when
anything was lost, duplicated, unchecked or leaked.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from crash import DELETION_SHARE, CrashTest  # noqa: E402
from failover import FailoverTest  # noqa: E402
from harness import REPOSITORY  # noqa: E402
from soak import Soak  # noqa: E402


def release_binary():
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=REPOSITORY, capture_output=True, text=True,
                          check=True).stdout.strip()
    return os.path.join(path, "stagelink")


def main():
    # A SIGTERM (CI's timeout, a person) still stops the sandbox and the binary: finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("proof", choices=["crash", "soak", "all"])
    parser.add_argument("--full", action="store_true", help="the long size instead of the CI size")
    parser.add_argument("--seed", type=int, default=8, help="the seed of the sandbox and of the kill schedule")
    parser.add_argument("--binary", help="the stagelink binary (default: the release build)")
    parser.add_argument("--report", help="where to write the JSON report (default: a file in the temporary folder)")
    parser.add_argument("--patients", type=int, help="override the size's number of seeded patients")
    parser.add_argument("--kills", type=int, help="crash: override the size's number of random kills")
    parser.add_argument("--cycles", type=int, help="soak: override the size's number of cycles")
    parser.add_argument("--emr-profile", choices=["generic", "certified", "lenient"], default="generic",
                        help="crash: which kind of EHR the sandbox behaves as (docs/emr-profiles.md)")
    parser.add_argument("--deletion-share", type=float, default=DELETION_SHARE,
                        help="crash: the share of the mutation driver's edits that delete or merge a record (default %(default)s; 0: none)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite",
                        help="crash: postgres runs two `stagelink run --standby` on one PostgreSQL store and kills the lease holder")
    parser.add_argument("--url", default=os.environ.get("STAGELINK_TEST_POSTGRES"),
                        help="crash --store postgres: the database (default $STAGELINK_TEST_POSTGRES); a fresh schema is made and dropped")
    parser.add_argument("--hosts", choices=["one", "two"], default="one",
                        help="crash --store postgres: two puts each service in a host namespace of its own, so that a standby waits for a dead holder's lease to lapse")
    parser.add_argument("--lease-ttl", help="crash --store postgres: the services' lease.ttl (default 30s), e.g. 10s")
    parser.add_argument("--freeze", action="store_true",
                        help="crash --store postgres: freeze the holder (SIGSTOP) instead of killing it, resume it after the takeover, and check that the fencing stops it")
    options = parser.parse_args()
    if options.store == "postgres" and not options.url:
        parser.error("--store postgres needs --url or STAGELINK_TEST_POSTGRES (eval \"$(scripts/test-postgres.sh start)\")")
    binary = os.path.abspath(options.binary or release_binary())
    if not os.access(binary, os.X_OK):
        sys.exit("no stagelink binary at %s: run `swift build -c release --product stagelink` first" % binary)

    def log(line):
        print(line, flush=True)

    size = "full" if options.full else "ci"
    reports = []
    started = time.time()
    if options.proof in ("crash", "all") and options.store == "postgres":
        test = FailoverTest(binary, options.url, size, options.seed, log, hosts=options.hosts, lease_ttl=options.lease_ttl, freeze=options.freeze)
        test.size.update({k: v for k, v in [("patients", options.patients), ("random_kills", options.kills)] if v is not None})
        reports.append(test.run())
    elif options.proof in ("crash", "all"):
        test = CrashTest(binary, size, options.seed, log, profile=options.emr_profile, deletion_share=options.deletion_share)
        test.size.update({k: v for k, v in [("patients", options.patients), ("random_kills", options.kills)] if v is not None})
        reports.append(test.run())
    if options.proof in ("soak", "all"):
        soak = Soak(binary, size, options.seed, log)
        soak.size.update({k: v for k, v in [("patients", options.patients), ("cycles", options.cycles)] if v is not None})
        reports.append(soak.run())
    report_path = options.report or os.path.join("/tmp", "stagelink-proof-%s-%d.json" % (options.proof, os.getpid()))
    with open(report_path, "w") as handle:
        json.dump(reports, handle, indent=2)

    problems = [(report["kind"], problem) for report in reports for problem in report["problems"]]
    print()
    for kind, problem in problems[:60]:
        print("  ✗ %s: %s" % (kind, problem))
    if len(problems) > 60:
        print("  … and %d more (see %s)" % (len(problems) - 60, report_path))
    passed = len(reports) - len({kind for kind, _ in problems})
    print("Report: %s (%.0fs)" % (report_path, time.time() - started))
    print("%d passed, %d failed" % (passed, len(reports) - passed))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

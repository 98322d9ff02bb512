"""Where a flood's time goes, thread by thread: a summary of py-spy's raw records.

    python bench/profile_threads.py RECORD.txt [--top 12]

RECORD.txt is what `bench/smpp_flood.py --profile DIR` writes (py-spy `record --threads
--format raw`: one line per distinct stack, "thread (id): name;frame;...;frame count").
Samples whose innermost frame waits (a lock, a condition, a socket read, a sleep) are counted
apart as waiting; the rest are running (holding the GIL or in C without it: SQLite, fsync).
For each thread: its running seconds, then the frames that cost most, inclusive, our own
code and the libraries' named by function.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

WAITING = re.compile(r"^(Condition\.wait|Event\.wait|Lock\.acquire|select|poll|sleep|"
                     r"_wait_for_tstate_lock|wait \(threading|recv|accept)")
THREAD = re.compile(r"^thread \(\d+\): (.*)$")
RATE = 250  # samples a second, as bench/smpp_flood.py records


def read(path: Path) -> dict[str, list[tuple[list[str], int]]]:
    """Stacks by thread name (numbered worker names folded into one)."""
    stacks: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        match = THREAD.match(frames[0])
        name = match.group(1) if match else "?"
        stacks[re.sub(r"-\d+$", "", name)].append((frames[1:], int(count)))
    return stacks


def summarise(stacks: list[tuple[list[str], int]], top: int) -> tuple[int, int, list]:
    running = waiting = 0
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames or WAITING.match(frames[-1]):
            waiting += count
            continue
        running += count
        for frame in set(frames):
            inclusive[re.sub(r" \((.*?):\d+\)", r" (\1)", frame)] += count
    boring = ("Thread.", "Worker._loop", "Link._run", "Link._connect_and_serve")
    ranked = [(f, c) for f, c in inclusive.most_common() if not f.startswith(boring)]
    return running, waiting, ranked[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("record", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)
    threads = read(args.record)
    summaries = {name: summarise(stacks, args.top) for name, stacks in threads.items()}
    total = sum(running for running, _, _ in summaries.values())
    print(f"{args.record}: {total / RATE:.2f} s running in all threads")
    for name, (running, waiting, ranked) in sorted(summaries.items(), key=lambda i: -i[1][0]):
        if running < RATE * 0.05:
            continue
        print(f"\n{name}: {running / RATE:.2f} s running, {waiting / RATE:.2f} s waiting")
        for frame, count in ranked:
            print(f"  {count / RATE:6.2f} s {count / running:4.0%}  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

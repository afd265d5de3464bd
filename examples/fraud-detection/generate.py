"""Reproducible, labelled demo transactions with a fraud pattern a model can learn.

Usage: `python generate.py --rows 5000 --seed 42 [--end 2026-01-01T00:00:00+00:00] [--span-seconds S] [--accounts N]
[--table public.transactions]`.

The pattern: fraud comes in bursts (several transactions on one account within a minute or two, mostly
large amounts, after a small "card test"). Honest accounts buy small amounts spread over hours, with two
decoys so no single feature decides: honest bursts of small purchases, and honest one-off large purchases.
A model therefore needs amount *and* the per-account window aggregates (count, sum, mean, max).

The same seed gives the same rows. Without --end the data ends at the current hour (so streaming demos see
recent event times); timestamps then shift by whole hours between days, which leaves every window feature
unchanged. Only the standard library and psycopg are used, so the platform's CLI can run this file as is.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql
from warehouse import connect, table_identifier

HONEST = {
    "grocery": ["FreshMart", "GreenGrocer", "DailyBasket"],
    "restaurants": ["Luigi's", "Noodle Bar", "Cafe Aurora"],
    "transport": ["CityRail", "RideNow", "FuelStop"],
    "retail": ["BookNook", "HomeGoods", "StyleHub"],
}
FRAUD = {
    "electronics": ["GadgetZone", "MegaTech Online"],
    "gift_cards": ["GiftCardHub", "eVoucher Store"],
    "online": ["QuickShop Intl", "BestDeals24"],
}
SECONDS_PER_ROW = 30  # average spacing of all rows: 5,000 rows cover about 42 hours
ROWS_PER_ACCOUNT = 40


@dataclass(frozen=True)
class Transaction:
    account_id: str
    merchant: str
    category: str
    amount: float
    created_at: datetime
    is_fraud: bool


def transactions(
    rows: int, seed: int, end: datetime, span: float | None = None, accounts: int | None = None
) -> list[Transaction]:
    """Exactly `rows` transactions in time order over `span` seconds (SECONDS_PER_ROW apart on average) up to
    `end`, from `accounts` accounts (default: ROWS_PER_ACCOUNT rows each); deterministic for the same arguments.

    Fewer accounts over a shorter span make each account busier, which the window features (count, sum per
    account) see: a drift. Live rows keep training's per-account pace with about one account per row."""
    rng = random.Random(seed)
    span = span or rows * SECONDS_PER_ROW
    if span <= 300:
        raise SystemExit("--span-seconds must be over 300 (bursts last up to five minutes)")
    if accounts is not None and accounts < 1:
        raise SystemExit("--accounts must be positive")
    start = end - timedelta(seconds=span)
    names = [f"acct-{index:05d}" for index in range(accounts or max(10, rows // ROWS_PER_ACCOUNT))]
    events: list[tuple[float, Transaction]] = []

    def add(offset: float, account: str, amount: float, fraud: bool, categories: dict[str, list[str]]) -> None:
        category = rng.choice(sorted(categories))
        merchant = rng.choice(categories[category])
        when = start + timedelta(seconds=round(offset, 3))
        events.append((offset, Transaction(account, merchant, category, round(amount, 2), when, fraud)))

    def burst(fraud: bool) -> int:
        account, offset = rng.choice(names), rng.uniform(0, span - 300)
        size = rng.randint(3, 7) if fraud else rng.randint(2, 4)
        for position in range(size):
            if fraud:
                amount = rng.uniform(1, 5) if position == 0 else rng.lognormvariate(5.4, 0.5)
            else:
                amount = rng.lognormvariate(2.8, 0.5)
            add(offset, account, amount, fraud, FRAUD if fraud else HONEST)
            offset += rng.uniform(4, 25)
        return size

    fraud_rows = 0
    while fraud_rows < round(rows * 0.04):
        fraud_rows += burst(fraud=True)
    for _ in range(round(rows * 0.015)):
        burst(fraud=False)
    for _ in range(round(rows * 0.02)):  # honest one-off large purchases
        add(rng.uniform(0, span), rng.choice(names), rng.lognormvariate(5.6, 0.4), False, HONEST)
    while len(events) < rows:
        add(rng.uniform(0, span), rng.choice(names), rng.lognormvariate(3.4, 0.8), False, HONEST)
    events.sort(key=lambda item: (item[0], item[1].account_id))
    # Trimming at random keeps the exact row count without cutting the timeline's end.
    while len(events) > rows:
        events.pop(rng.randrange(len(events)))
    return [transaction for _, transaction in events]


def insert(transactions: list[Transaction], table: str) -> int:
    """COPY the rows into the warehouse in time order (ids then follow event time, as CDC consumers expect)."""
    statement = sql.SQL("COPY {} (account_id, merchant, category, amount, created_at, is_fraud) FROM STDIN").format(
        table_identifier(table)
    )
    with connect() as conn, conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in transactions:
            copy.write_row((row.account_id, row.merchant, row.category, row.amount, row.created_at, row.is_fraud))
    return len(transactions)


def default_end() -> datetime:
    return datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda v: int(float(v)), default=5000)
    parser.add_argument("--seed", type=lambda v: int(float(v)), default=42)
    parser.add_argument("--table", default="public.transactions")
    parser.add_argument("--end", type=datetime.fromisoformat, default=None, help="Time of the last row (ISO).")
    parser.add_argument("--span-seconds", type=float, default=None, help="Time the rows cover (default: 30 s/row).")
    parser.add_argument("--accounts", type=int, default=None, help="Accounts the rows come from (default: rows/40).")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.rows <= 0:
        raise SystemExit("--rows must be positive")
    generated = transactions(args.rows, args.seed, args.end or default_end(), args.span_seconds, args.accounts)
    insert(generated, args.table)
    fraud = sum(row.is_fraud for row in generated)
    print(f"inserted {len(generated)} transactions ({fraud} fraudulent) into {args.table} with seed {args.seed}")


if __name__ == "__main__":
    main()

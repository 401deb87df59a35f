"""Host checks from the service cards: `kuntapilvi check <tenant>`.

- `inventory`: which servers a tenant has (stack outputs or a JSON file) and what each one's card
  and check context are.
- `cardchecks`: a card's `host_checks` and `ports`, with placeholders filled, as a list of checks.
- `test_cards.py`: the one generic testinfra module, parametrised at collection time from the
  catalogue and an inventory; `plugin` gives it its options, SSH connections and results.
- `runner`: runs that module with pytest in-process and returns one result per check.
"""

"""The four experiments, each a package with the same three modules:

- `layout`: torch-free path templates (`anoloc.paths` conventions), input lists and `targets(cfg)` — read by the
  rules at parse time and by the table code;
- `steps`: the work of the rule scripts (prepare, train, score), torch imported at the top;
- `tables`: torch-free tables computed from the saved score files.

| package  | paper / result                                                                |
|----------|-------------------------------------------------------------------------------|
| `mnist`  | Zimmerer et al. 2019, sample-wise (Fashion)MNIST → table1, fig1               |
| `brain`  | Zimmerer et al. 2019, pixel-wise brain MRI (HCP → BraTS) → table2–3, fig2–3   |
| `cells`  | Vodenicharski et al. 2022, SUPN on fluorescent cells → table4, fig4–5         |
| `mvtec`  | Vodenicharski et al. 2022, SPADE / PaDiM / PatchCore on MVTec AD → table5, fig6 |
| `claims` | both papers: every published claim checked on the results above → claims.csv, claims figure |

`claims` has no `steps` (it trains nothing): `layout`, `tables` (the ledger) and `readme` (the README summary).
"""

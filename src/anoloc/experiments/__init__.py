"""The experiments, each a package with the same modules:

- `layout`: torch-free path templates (`anoloc.paths` conventions), input lists and `targets(cfg)` — read by the
  rules at parse time and by the table code;
- `steps`: the torch work of the rule scripts (train, score); the torch-free data preparation lives in
  `anoloc.data.<experiment>`;
- `tables`: torch-free tables computed from the saved score files.

| package  | paper / result                                                                  |
|----------|---------------------------------------------------------------------------------|
| `mnist`  | Zimmerer et al. 2019, sample-wise (Fashion)MNIST → table1, fig1                 |
| `brain`  | Zimmerer et al. 2019, pixel-wise brain MRI (HCP → BraTS) → table2–3, fig2–3     |
| `cells`  | Vodenicharski et al. 2022, SUPN on fluorescent cells → table4, fig4–5           |
| `mvtec`  | Vodenicharski et al. 2022, SPADE / PaDiM / PatchCore on MVTec AD → table5, fig6 |
| `matrix` | beyond the papers: every method on every dataset, one evaluator → matrix, fig7  |
| `claims` | both papers: every published claim checked on the results above → claims.csv  |

`matrix` adds `catalogue.py` (what each method needs and each dataset offers; which cells exist). `claims` has no
`steps` (it trains nothing): `layout`, `tables` (the ledger) and `readme` (the README summary).
"""

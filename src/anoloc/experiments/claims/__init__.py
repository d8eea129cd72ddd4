"""The claims ledger: every published claim of the two papers checked, with statistics, on the saved results of the
other experiments (`layout`: outputs and inputs; `tables`: the claims and the ledger; `readme`: the README / report
summary rendered from committed ledger snapshots). Torch-free."""

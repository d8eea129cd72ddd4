# Rules of the brain experiment (see its issue); registers its targets with register_targets("brain", [...]).
register_targets("brain", [])

# Rules of the mvtec experiment (see its issue); registers its targets with register_targets("mvtec", [...]).
register_targets("mvtec", [])

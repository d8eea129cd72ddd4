# Rules of the cells experiment (see its issue); registers its targets with register_targets("cells", [...]).
register_targets("cells", [])

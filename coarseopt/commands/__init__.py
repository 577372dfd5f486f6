"""The subcommands of the ``coarseopt`` command line that live in modules of their own, and
what they share (:mod:`.common`)."""

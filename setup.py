"""Package layout: the top-level folders `solvers/` and `benchmarks/` are installed under
project-specific names, so that no generic top-level module (`solvers`, `benchmarks`) is
installed into a user's environment. Everything else is declared in pyproject.toml."""

from setuptools import find_packages, setup

RENAMED = {"solvers": "coarseopt_solvers", "benchmarks": "coarseopt_benchmarks"}

packages = find_packages(include=["coarseopt", "coarseopt.*"])
for folder, name in RENAMED.items():
    packages += [name + p[len(folder):] for p in find_packages(include=[folder, folder + ".*"])]

setup(
    packages=packages,
    package_dir={"coarseopt": "coarseopt", **{name: folder for folder, name in RENAMED.items()}},
)

"""Loss functions, registered in `LOSSES` by name; every module in this folder is imported here."""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")

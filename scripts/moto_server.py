"""moto's server (`python -m moto.server`), with one thread-safety fix for the tests.

moto serves requests on threads but keeps each event bus's rules in a plain dict, and
PutEvents (also S3's EventBridge delivery) iterates that dict while it delivers. A rule
created or deleted on the same bus by a concurrent request then fails the PutEvents
with a 500 ("dictionary changed size during iteration") after part of the batch was
delivered, and the SDK's retry delivers that part twice: a false test failure. Here a
bus's rules are iterated over a snapshot. Nothing else about moto changes; if its
internals ever differ, the server runs unpatched and says so.

    python3 scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import sys
from collections import OrderedDict


class _Snapshots(OrderedDict):
    """A dict whose views are copies, so iterating one never sees a concurrent change."""

    def values(self):
        return list(super().values())

    def items(self):
        return list(super().items())

    def keys(self):
        return list(super().keys())

    def __iter__(self):
        return iter(list(super().keys()))


def _patch_event_bus_rules():
    from moto.events import models

    original_init = models.EventBus.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.rules = _Snapshots(self.rules)

    models.EventBus.__init__ = init


try:
    _patch_event_bus_rules()
except Exception as error:  # moto changed: serve it as it is
    print(f"moto_server.py: EventBus.rules not patched ({error!r})", file=sys.stderr)

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main()

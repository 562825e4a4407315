"""The automated feed to the national centres: STIX 2.1 mapping (:mod:`.stix`), the outbox hooks
that enqueue a shareable incident's new versions in the transaction that changed it
(:mod:`.outbox`), and the sender that pushes them (:mod:`.push`). TAXII 2.1 is served by
:mod:`soc_api.routes.taxii`; data access lives in :mod:`soc_api.crud.feed`."""

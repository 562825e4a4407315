"""Distributed-mode adapters: the same protocols as the embedded bus and store, on real servers.

- :mod:`soc_core.adapters.kafka_bus` — :class:`KafkaBus` implements :class:`soc_core.bus.Bus` on
  Apache Kafka (kafka-python); :mod:`soc_core.adapters.confluent_bus` — :class:`ConfluentBus`, the same
  on confluent-kafka (``settings.kafka_client``); shared parts in :mod:`soc_core.adapters.kafka_common`.
- :mod:`soc_core.adapters.es_store` — :class:`ElasticsearchEventStore` implements
  :class:`soc_core.stores.EventStore` on Elasticsearch; index templates in
  :mod:`soc_core.adapters.es_templates`.

Imported lazily: the ``distributed`` extra (kafka-python, confluent-kafka, elasticsearch) is only needed when an
adapter module is imported.
"""

"""The lab's microservices. Each one is a package built on the shared kit in `services.kit`."""

"""The checkout chain: service-a quotes a checkout, service-b prices its items, service-c applies
the customer's loyalty discount. Three small services, one package, one process each."""

"""SOAP 1.1 binding of TBS-1.0 (§16): the XML mapping, a zeep client connector and an ASGI server.

``mapping`` turns JSON envelopes, acknowledgements, self-descriptions and changes pages into the
XML of the normative WSDL/XSD and back (TBS-SOAP-003); ``client`` is the :class:`Connector` for
partners that expose the SOAP binding; ``server`` serves a :class:`SystemService` over SOAP.
Heavy imports (zeep, FastAPI) live in ``client`` and ``server`` only.
"""

"""Bind LocalStack's gateway to the host ``GATEWAY_LISTEN`` names, not to every interface.

LocalStack 4.8.1's twisted server builds ``TCP4ServerEndpoint(reactor, port)`` for an IPv4
listen address (``localstack/runtime/server/twisted.py``, under ``# TODO: interface = host?``),
so ``GATEWAY_LISTEN=127.0.0.1:PORT`` still listens on ``0.0.0.0``: from any other address of the
machine (the docker bridge, a LAN interface) anyone could create a Lambda function and run code
as the test user. :func:`bind_gateway_to_listen_host` passes the host as the interface, as
LocalStack already does for IPv6 addresses. In a container ``GATEWAY_LISTEN=0.0.0.0:P`` keeps
its meaning (the published port is what limits it there).
"""

from __future__ import annotations


def bind_gateway_to_listen_host() -> None:
    """Make the twisted gateway listen on the interface each ``GATEWAY_LISTEN`` entry names."""
    from localstack import config
    from localstack.runtime.server import twisted as ls_twisted
    from rolo.serving.twisted import TwistedGateway
    from twisted.internet import endpoints, reactor, ssl

    def register(self, gateway, listen, ssl_creds=None):
        site = TwistedGateway(gateway)
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = ls_twisted.TLSMultiplexerFactory(context_factory, False, site)
        else:
            protocol_factory = site
        for host_and_port in listen:
            endpoint_class = (endpoints.TCP6ServerEndpoint
                              if config.is_ipv6_address(host_and_port.host)
                              else endpoints.TCP4ServerEndpoint)
            interface = host_and_port.host or ""
            endpoint_class(reactor, host_and_port.port, interface=interface).listen(protocol_factory)

    ls_twisted.TwistedRuntimeServer.register = register

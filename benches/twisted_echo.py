"""The Twisted echo server the reactor benchmarks compare against.

Usage: python benches/twisted_echo.py PORT

A plain ``Protocol`` that writes back what it receives, on ``reactor.listenTCP`` with the
default reactor (epoll on Linux). Prints ``listening on 127.0.0.1:PORT`` once ready; SIGTERM
stops it.
"""

import sys

from twisted.internet import protocol, reactor


class Echo(protocol.Protocol):
    """Sends every byte it receives straight back."""

    def connectionMade(self):
        # The other servers turn Nagle's algorithm off too.
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


class EchoFactory(protocol.Factory):
    protocol = Echo


def main():
    port = int(sys.argv[1])
    listening = reactor.listenTCP(port, EchoFactory(), backlog=1024, interface="127.0.0.1")
    address = listening.getHost()
    print(f"listening on {address.host}:{address.port} ({type(reactor).__name__})", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()

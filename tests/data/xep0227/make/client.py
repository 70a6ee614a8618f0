#!/usr/bin/env python3
"""A minimal XMPP client over plain TCP (PLAIN auth) that plays a fixed script against a
server on 127.0.0.1, to put real data (roster, subscriptions, vCard, private XML, PEP, an
offline message) into a server's own storage before it is exported."""
import base64, socket, sys, time

class Client:
    def __init__(self, port, user, password, domain="localhost", resource="gen"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = ""
        self.user, self.domain = user, domain
        self.open()
        self.wait("PLAIN")
        cred = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{cred}</auth>")
        self.wait("<success")
        self.buf = ""
        self.open()
        self.wait("urn:ietf:params:xml:ns:xmpp-bind")
        self.iq("set", f"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{resource}</resource></bind>")

    def open(self):
        self.send(f"<?xml version='1.0'?><stream:stream to='{self.domain}' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")

    def send(self, x):
        self.s.sendall(x.encode())

    def wait(self, marker):
        deadline = time.time() + 10
        while marker not in self.buf:
            if time.time() > deadline:
                sys.exit(f"{self.user}: timed out waiting for {marker!r}; got {self.buf!r}")
            data = self.s.recv(65536)
            if not data:
                sys.exit(f"{self.user}: closed while waiting for {marker!r}; got {self.buf!r}")
            self.buf += data.decode()
        i = self.buf.index(marker)
        self.buf = self.buf[i + len(marker):]

    _n = 0
    def iq(self, typ, payload, to=None):
        Client._n += 1
        iq_id = f"g{Client._n}"
        dest = f" to='{to}'" if to else ""
        self.send(f"<iq type='{typ}' id='{iq_id}'{dest}>{payload}</iq>")
        self.wait(f"id='{iq_id}'")
        if "type='error'" in self.buf[:200] or 'type="error"' in self.buf[:200]:
            sys.exit(f"{self.user}: iq {payload[:60]} failed: {self.buf[:300]!r}")

    def close(self):
        self.send("</stream:stream>")
        time.sleep(0.3)
        self.s.close()

def main():
    port = int(sys.argv[1])
    alice = Client(port, "alice", "wonderland-1")
    bob = Client(port, "bob", "builder-2")
    # Roster items with names and groups, then mutual subscriptions alice <-> bob.
    alice.iq("set", "<query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob B.'>"
             "<group>Friends</group><group>Work</group></item></query>")
    bob.iq("set", "<query xmlns='jabber:iq:roster'><item jid='alice@localhost' name='Alice'/></query>")
    alice.send("<presence/>"); bob.send("<presence/>")
    time.sleep(0.5)
    alice.send("<presence to='bob@localhost' type='subscribe'/>")
    time.sleep(0.5)
    bob.send("<presence to='alice@localhost' type='subscribed'/>")
    bob.send("<presence to='alice@localhost' type='subscribe'/>")
    time.sleep(0.5)
    alice.send("<presence to='bob@localhost' type='subscribed'/>")
    time.sleep(0.5)
    # A pending outbound subscription (carol never answers): ask='subscribe' in alice's roster,
    # a pending inbound subscription in carol's.
    alice.iq("set", "<query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'>"
             "<group>Friends</group></item></query>")
    alice.send("<presence to='carol@localhost' type='subscribe'/>")
    time.sleep(0.5)
    # vCard, private XML and a PEP node of alice's.
    alice.iq("set", "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>alice</NICKNAME></vCard>")
    alice.iq("set", "<query xmlns='jabber:iq:private'><notes xmlns='http://miranda-im.org/storage#notes'>"
             "<note>remember the rabbit</note></notes></query>")
    alice.iq("set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'>"
             "<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Alice L.</nick></item>"
             "</publish></pubsub>")
    alice.close()
    time.sleep(0.5)
    # A message to alice while she is offline.
    bob.send("<message to='alice@localhost' type='chat' id='m1'><body>Are you there, Alice?</body></message>")
    time.sleep(0.5)
    bob.close()

main()

"""Rule matching and seeding of the fault proxy (no simulator).

Its HTTP answers are checked against a loopback stand-in upstream that
answers every POST with one fixed envelope.
"""

import http.server
import threading
import time

import requests
import testtools

from vmware_backend.testbed.faults import http_server
from vmware_backend.testbed.faults import proxy
from vmware_backend.testbed.faults import rules

BODY = (b'<?xml version="1.0"?><soapenv:Envelope><soapenv:Header/>'
        b'<soapenv:Body>\n  <ns1:CreateVM_Task xmlns:ns1="urn:vim25">'
        b'<ns1:_this type="Folder">f</ns1:_this></ns1:CreateVM_Task>'
        b'</soapenv:Body></soapenv:Envelope>')
METHODS = ['RetrievePropertiesEx', 'CreateVM_Task', 'FindAllByUuid',
           'ReconfigVM_Task', 'Destroy_Task'] * 40


def _sequence(seed, rule_list):
    plan = rules.FaultPlan(rule_list, seed=seed)
    return [(m, getattr(plan.choose(m), 'kind', None)) for m in METHODS]


class RuleTest(testtools.TestCase):

    def test_soap_method(self):
        self.assertEqual('CreateVM_Task', rules.soap_method(BODY))
        self.assertIsNone(rules.soap_method(b'<html/>'))
        self.assertIsNone(rules.soap_method(b''))

    def test_request_method_names_soap_vijson_and_nfc_requests(self):
        self.assertEqual('CreateVM_Task',
                         rules.request_method('POST', '/sdk', BODY))
        self.assertEqual(
            'json:RetrievePropertiesEx', rules.request_method(
                'POST', '/sdk/vim25/8.0.3.0/PropertyCollector/'
                'propertyCollector/RetrievePropertiesEx', b'{}'))
        self.assertEqual('json:Login', rules.request_method(
            'POST', '/sdk/vim25/8.0.1.0/SessionManager/SessionManager/'
            'Login', b'{"userName": "u"}'))
        # a property read (the service content) and the release
        # negotiation are not named, hence never faulted
        self.assertIsNone(rules.request_method(
            'GET', '/sdk/vim25/8.0.3.0/ServiceInstance/ServiceInstance/'
            'content', b''))
        self.assertIsNone(rules.request_method(
            'POST', '/api/vcenter/system?action=hello', b'{}'))
        self.assertEqual('nfc:PUT', rules.request_method(
            'PUT', '/nfc/52a1-lease/disk-0.vmdk', b'KDMV'))
        self.assertEqual('nfc:GET', rules.request_method(
            'GET', '/nfc/52a1-lease/disk-0.vmdk?x=1', b''))

    def test_star_is_soap_only_json_and_nfc_stars_their_own(self):
        soap, json, nfc = (rules.Rule('reset', m)
                           for m in ('*', 'json:*', 'nfc:*'))
        self.assertEqual([True, False, False],
                         [r.matches('RetrievePropertiesEx')
                          for r in (soap, json, nfc)])
        self.assertEqual([False, True, False],
                         [r.matches('json:RetrievePropertiesEx')
                          for r in (soap, json, nfc)])
        self.assertEqual([False, False, True],
                         [r.matches('nfc:PUT') for r in (soap, json, nfc)])
        self.assertFalse(json.matches('json:Login'))
        self.assertFalse(json.matches('json:Logout'))
        self.assertFalse(rules.Rule('task_error_after', 'json:*').matches(
            'json:RetrievePropertiesEx'))

    def test_unknown_kind_and_bad_probability_are_refused(self):
        self.assertRaises(ValueError, rules.Rule, 'explode')
        self.assertRaises(ValueError, rules.Rule, 'reset', probability=2)
        self.assertRaises(ValueError, rules.Rule, 'reset', count=-1)

    def test_star_matches_all_but_exempt(self):
        rule = rules.Rule('reset')
        self.assertTrue(rule.matches('RetrievePropertiesEx'))
        self.assertFalse(rule.matches('Login'))
        self.assertFalse(rule.matches(None))
        self.assertTrue(rules.Rule('reset', 'Login').matches('Login'))

    def test_task_faults_match_task_methods_only(self):
        rule = rules.Rule('task_hang')
        self.assertTrue(rule.matches('CloneVM_Task'))
        self.assertFalse(rule.matches('RetrievePropertiesEx'))
        self.assertFalse(rules.Rule('task_hang', 'CreateFolder').matches(
            'CreateFolder'))

    def test_named_method(self):
        rule = rules.Rule('http_503', 'CloneVM_Task')
        self.assertTrue(rule.matches('CloneVM_Task'))
        self.assertFalse(rule.matches('CreateVM_Task'))

    def test_count_limits_a_rule(self):
        plan = rules.FaultPlan([rules.Rule('reset', count=2)])
        chosen = [plan.choose('FindAllByUuid') for _i in range(5)]
        self.assertEqual(2, len([c for c in chosen if c is not None]))

    def test_plan_limit(self):
        plan = rules.FaultPlan([rules.Rule('reset')], limit=3)
        for _i in range(5):
            if plan.choose('FindAllByUuid'):
                plan.record('reset', 'FindAllByUuid')
        self.assertEqual(3, plan.total())

    def test_same_seed_same_faults(self):
        def rule_list():
            return [rules.Rule('task_error_after', probability=0.2),
                    rules.Rule('reset', probability=0.1)]
        first = _sequence(42, rule_list())
        self.assertEqual(first, _sequence(42, rule_list()))
        self.assertNotEqual(first, _sequence(43, rule_list()))
        kinds = {kind for _m, kind in first}
        self.assertEqual({None, 'reset', 'task_error_after'}, kinds)

    def test_first_matching_rule_wins(self):
        plan = rules.FaultPlan([rules.Rule('http_500', 'Destroy_Task'),
                                rules.Rule('reset')])
        self.assertEqual('http_500', plan.choose('Destroy_Task').kind)
        self.assertEqual('reset', plan.choose('CreateVM_Task').kind)

    def test_pause_and_resume(self):
        plan = rules.FaultPlan([rules.Rule('reset')])
        plan.pause()
        self.assertIsNone(plan.choose('FindAllByUuid'))
        plan.resume()
        self.assertIsNotNone(plan.choose('FindAllByUuid'))

    def test_counts(self):
        plan = rules.FaultPlan()
        plan.record('reset', 'A')
        plan.record('reset', 'B')
        plan.record('slow', 'A')
        plan.record_skipped('task_hang', 'C', 'no endpoint')
        self.assertEqual({'reset': 2, 'slow': 1}, dict(plan.counts()))
        self.assertEqual(1, len(plan.skipped))

    def test_session_key(self):
        self.assertEqual('abc-1', proxy.session_key(
            'vmware_soap_session="abc-1"; other=x'))
        self.assertEqual('abc-1', proxy.session_key(
            'vmware_soap_session=abc-1'))
        self.assertIsNone(proxy.session_key(None))
        self.assertIsNone(proxy.session_key('x=y'))


class TaskGateTest(testtools.TestCase):
    """Task calls pass together; one with a task rule passes alone."""

    def test_plain_calls_pass_together(self):
        gate = http_server.TaskGate()
        inside = threading.Barrier(2, timeout=5)

        def plain():
            with gate.shared():
                inside.wait()  # both inside at once, or a timeout

        threads = [threading.Thread(target=plain) for _i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertFalse(inside.broken)

    def test_a_call_with_a_rule_waits_for_plain_calls_and_holds_them(self):
        gate = http_server.TaskGate()
        events = []
        plain_in = threading.Event()
        let_plain_go = threading.Event()

        def plain(name, wait_for=None):
            with gate.shared():
                events.append(name)
                plain_in.set()
                if wait_for is not None:
                    wait_for.wait(5)

        first = threading.Thread(target=plain, args=('plain 1',
                                                     let_plain_go))
        first.start()
        plain_in.wait(5)

        def exclusive():
            gate.acquire_exclusive()
            events.append('rule')
            time.sleep(0.2)
            events.append('rule done')
            gate.release_exclusive()

        ruled = threading.Thread(target=exclusive)
        ruled.start()
        time.sleep(0.1)
        self.assertEqual(['plain 1'], events)  # waits for the plain call
        let_plain_go.set()
        time.sleep(0.05)
        second = threading.Thread(target=plain, args=('plain 2',))
        second.start()
        for t in (first, ruled, second):
            t.join(10)
        self.assertEqual(['plain 1', 'rule', 'rule done', 'plain 2'],
                         events)

    def test_release_twice_and_by_another_thread_is_harmless(self):
        gate = http_server.TaskGate()
        gate.acquire_exclusive()
        self.assertTrue(gate.held())
        other = threading.Thread(target=gate.release_exclusive)
        other.start()
        other.join(5)
        self.assertTrue(gate.held())
        gate.release_exclusive()
        gate.release_exclusive()
        self.assertFalse(gate.held())
        with gate.shared():
            pass


class _Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    ANSWER = b'<soapenv:Envelope><soapenv:Body/></soapenv:Envelope>'

    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.send_response(200)
        self.send_header('Content-Length', str(len(self.ANSWER)))
        self.end_headers()
        self.wfile.write(self.ANSWER)

    def log_message(self, fmt, *args):
        pass


class ProxyConnectionTest(testtools.TestCase):
    """Keep-alive towards the client, and a close announced in the answer."""

    def setUp(self):
        super().setUp()
        upstream = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                   _Upstream)
        thread = threading.Thread(target=upstream.serve_forever,
                                  kwargs={'poll_interval': 0.05})
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(upstream.server_close)
        self.addCleanup(upstream.shutdown)
        self.proxy = proxy.FaultProxy(
            '127.0.0.1', upstream.server_address[1]).start()
        self.addCleanup(self.proxy.stop)
        self.http = requests.Session()
        self.addCleanup(self.http.close)

    def post(self, method):
        body = (b'<soapenv:Envelope><soapenv:Body><ns1:%s/>'
                b'</soapenv:Body></soapenv:Envelope>' % method.encode())
        return self.http.post(self.proxy.url, data=body, timeout=10)

    def test_error_page_says_connection_close(self):
        # The proxy closes the connection after an error page: the page
        # says so, so the client does not send its next request on it (it
        # would meet the close without an answer: RemoteDisconnected).
        # Each request comes right after the previous answer, on the
        # client's one pooled connection unless that was closed.
        self.proxy.plan = rules.FaultPlan([
            rules.Rule('http_503', 'FindChild', count=20),
            rules.Rule('http_500', 'CreateFolder', count=20)])
        seen = []
        for _i in range(20):
            for method in ('RetrievePropertiesEx', 'FindChild',
                           'RetrievePropertiesEx', 'CreateFolder'):
                resp = self.post(method)
                seen.append((method, resp.status_code,
                             resp.headers.get('Connection')))
        self.assertEqual(
            [('RetrievePropertiesEx', 200, None), ('FindChild', 503, 'close'),
             ('RetrievePropertiesEx', 200, None),
             ('CreateFolder', 500, 'close')] * 20, seen)
        # keep-alive otherwise: a new connection after each error page only
        self.assertEqual(40, self.proxy.accepted_connections)
        self.assertEqual(80, self.proxy.requests)

"""Rule matching and seeding of the fault proxy (no simulator)."""

import testtools

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

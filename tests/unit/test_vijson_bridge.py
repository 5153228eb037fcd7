"""Synchronous code on an asyncio event loop (vsphere/json/bridge.py)."""

import asyncio

import testtools

from vmware_backend.vsphere.json import bridge
from vmware_backend.vsphere.json import reader


async def _value(value, delay=0):
    await asyncio.sleep(delay)
    return value


async def _fail(message):
    await asyncio.sleep(0)
    raise ValueError(message)


class BridgeTest(testtools.TestCase):

    def test_result_of_the_function_and_of_its_awaits(self):
        def work(a, b=0):
            return bridge.await_(_value(a)) + bridge.await_(_value(b))

        self.assertEqual(5, asyncio.run(bridge.run_sync(work, 2, b=3)))

    def test_an_exception_of_a_coroutine_reaches_the_function(self):
        def work():
            try:
                bridge.await_(_fail('no answer'))
            except ValueError as err:
                return 'caught %s' % err
            return 'not raised'

        self.assertEqual('caught no answer',
                         asyncio.run(bridge.run_sync(work)))

    def test_an_exception_of_the_function_reaches_the_caller(self):
        def work():
            bridge.await_(_value(1))
            raise KeyError('bad backend')

        err = self.assertRaises(KeyError, asyncio.run,
                                bridge.run_sync(work))
        self.assertEqual("'bad backend'", str(err))

    def test_functions_overlap_their_waits_on_one_loop(self):
        events = []

        def work(name, delay):
            events.append('start %s' % name)
            bridge.await_(_value(None, delay))
            events.append('end %s' % name)
            return name

        async def main():
            return await asyncio.gather(bridge.run_sync(work, 'a', 0.05),
                                        bridge.run_sync(work, 'b', 0.01))

        self.assertEqual(['a', 'b'], asyncio.run(main()))
        # b started while a waited, and finished first
        self.assertEqual(['start a', 'start b', 'end b', 'end a'], events)

    def test_await_outside_run_sync_is_an_error_and_closes(self):
        coro = _value(1)
        self.assertRaises(RuntimeError, bridge.await_, coro)
        # closed: it can no longer be awaited
        self.assertRaises(RuntimeError, asyncio.run, coro)
        self.assertFalse(bridge.active())
        self.assertIsNone(bridge.values())

    def test_values_are_the_functions_own(self):
        def work():
            return dict(bridge.values())

        async def main():
            return await asyncio.gather(
                bridge.run_sync(work, _values={'k': 1}),
                bridge.run_sync(work, _values={'k': 2}))

        self.assertEqual([{'k': 1}, {'k': 2}], asyncio.run(main()))

    def test_runner_uses_the_running_loop_inside_run_sync(self):
        async def loop_of():
            return asyncio.get_running_loop()

        def work():
            runner = reader.Runner()
            try:
                return runner.run(loop_of())
            finally:
                runner.close()

        async def main():
            return (asyncio.get_running_loop(),
                    await bridge.run_sync(work))

        outer, inner = asyncio.run(main())
        self.assertIs(outer, inner)

    def test_cancelling_the_task_runs_the_functions_clean_up(self):
        events = []

        def work():
            try:
                bridge.await_(_value(None, 10))
            finally:
                # clean-up may still await (a logout, a DestroyView)
                events.append(bridge.await_(_value('cleaned')))

        async def main():
            task = asyncio.ensure_future(bridge.run_sync(work))
            await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return 'cancelled'

        self.assertEqual('cancelled', asyncio.run(main()))
        self.assertEqual(['cleaned'], events)

"""
The service API through ``ior_ros.runtime`` only, run as a process on either backend.

test_rt_services.py runs it with ``IOR_ROS_BACKEND=dds`` and ``rclpy``: the same assertions must
hold on both (what a node written against ``ior_ros.runtime`` may rely on). Prints
``SERVICES OK on <backend>`` at the end; any failed check raises (exit 1 with the traceback).
"""

from __future__ import annotations

import threading
import time

from ior_ros.runtime import (
    BACKEND,
    Node,
    SingleThreadedExecutor,
    get_service,
    init,
    try_shutdown,
)


def wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main() -> None:
    init(args=['rt_services_script'])
    set_bool = get_service('std_srvs/srv/SetBool')
    trigger = get_service('std_srvs/srv/Trigger')
    assert get_service('std_srvs/SetBool') is set_bool  # 'pkg/Name' works too
    assert set_bool.Request().data is False and set_bool.Response().message == ''
    assert repr(set_bool.Request(data=True)) == 'std_srvs.srv.SetBool_Request(data=True)'
    description = get_service('type_description_interfaces/srv/GetTypeDescription')
    assert description.Request().include_type_sources is True  # the .srv default

    node = Node('svc_api', namespace='/svc')
    heard: list[bool] = []

    def on_set(request, response):  # type: ignore[no-untyped-def]
        heard.append(bool(request.data))
        response.success = bool(request.data)
        response.message = 'on' if request.data else 'off'
        return response

    service = node.create_service(set_bool, '~/set', on_set)
    client = node.create_client(set_bool, '~/set')
    assert (service.srv_name, service.service_name) == ('~/set', '/svc/svc_api/set')
    assert (client.srv_name, client.service_name) == ('~/set', '/svc/svc_api/set')
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    # call_async + spin_until_future_complete
    assert client.wait_for_service(timeout_sec=60)
    assert client.service_is_ready()
    future = client.call_async(set_bool.Request(data=True))
    executor.spin_until_future_complete(future, timeout_sec=60)
    assert future.done(), 'no reply'
    assert (future.result().success, future.result().message) == (True, 'on')

    # call() blocks while another thread spins the node
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        response = client.call(set_bool.Request(data=False), timeout_sec=60)
        assert response is not None and (response.success, response.message) == (False, 'off')
        assert heard == [True, False], heard
        try:
            client.call_async(trigger.Request())
        except TypeError:
            pass
        else:
            raise AssertionError('a request of another type was accepted')

        # a service nobody serves: wait_for_service and call time out
        missing = node.create_client(trigger, 'nobody_serves_this')
        started = time.monotonic()
        assert missing.wait_for_service(timeout_sec=0.5) is False
        assert time.monotonic() - started < 10
        assert not missing.service_is_ready()
        assert missing.call(trigger.Request(), timeout_sec=0.5) is None
    finally:
        stop.set()
        spinner.join(timeout=30)

    # graph queries (own node)
    assert wait_until(lambda: ('/svc/svc_api/set', ['std_srvs/srv/SetBool'])
                      in node.get_service_names_and_types())
    assert ('/svc/nobody_serves_this', ['std_srvs/srv/Trigger']) in \
        node.get_service_names_and_types()  # a client alone makes a service name (rmw)
    servers = dict(node.get_service_names_and_types_by_node('svc_api', '/svc'))
    assert servers['/svc/svc_api/set'] == ['std_srvs/srv/SetBool'], servers
    assert servers['/svc/svc_api/get_type_description'] == [
        'type_description_interfaces/srv/GetTypeDescription'], servers
    assert '/svc/nobody_serves_this' not in servers
    clients = dict(node.get_client_names_and_types_by_node('svc_api', '/svc'))
    assert clients == {'/svc/svc_api/set': ['std_srvs/srv/SetBool'],
                       '/svc/nobody_serves_this': ['std_srvs/srv/Trigger']}, clients
    assert node.count_services('~/set') == 1 and node.count_clients('~/set') == 1
    assert node.count_services('nobody_serves_this') == 0
    assert node.count_clients('nobody_serves_this') == 1

    # destroy
    assert node.destroy_client(missing) and node.destroy_service(service)
    assert not node.destroy_service(service)
    assert wait_until(lambda: '/svc/svc_api/set' not in dict(
        node.get_service_names_and_types_by_node('svc_api', '/svc')))
    assert wait_until(lambda: node.count_clients('nobody_serves_this') == 0)
    node.destroy_node()
    try_shutdown()
    print(f'SERVICES OK on {BACKEND}', flush=True)


if __name__ == '__main__':
    main()

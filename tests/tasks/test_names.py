"""Task names: every name the API may send is registered by the worker, under its queue."""

from tasks import names
from tasks.celery_app import app


def test_every_task_name_is_registered_by_the_worker():
    app.loader.import_default_modules()
    assert set(names.ALL) <= set(app.tasks)


def test_the_package_task_goes_to_the_packages_queue():
    app.loader.import_default_modules()
    assert app.tasks[names.PROCESS_PACKAGE].queue == names.PACKAGES_QUEUE
    assert app.amqp.router.route({}, names.PROCESS_PACKAGE)["queue"].name == names.PACKAGES_QUEUE


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks


def test_package_task_acks_late_with_time_limits_below_visibility():
    app.loader.import_default_modules()
    task = app.tasks[names.PROCESS_PACKAGE]
    assert task.acks_late
    assert app.conf.worker_prefetch_multiplier == 1
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert app.conf.task_time_limit < visibility

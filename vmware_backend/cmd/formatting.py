"""Output of the operator commands: aligned text tables and JSON.

Pure functions over plain values (dicts, lists, strings, numbers and
:class:`vmware_backend.vsphere.inventory.MoRef` tuples); no I/O.
"""

import json

GiB = 1024 ** 3


def gib(value, digits=2):
    """A size in GiB as text, without trailing zeros ("2", "1.5")."""
    if value is None:
        return '-'
    text = '%.*f' % (digits, value)
    if '.' in text:
        text = text.rstrip('0').rstrip('.')
    return text


def seconds(value):
    """A duration as short text ("0.12s", "3.4s")."""
    if value is None:
        return '-'
    return '%.2fs' % value if value < 10 else '%.1fs' % value


def cell(value):
    """The text of one table cell."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return gib(value)
    if isinstance(value, (list, tuple, set)) and not _is_moref(value):
        items = sorted(value) if isinstance(value, set) else value
        return ', '.join(cell(item) for item in items) or '-'
    if _is_moref(value):
        return value[1]
    return str(value)


def _is_moref(value):
    return (isinstance(value, tuple) and hasattr(value, '_fields') and
            value._fields == ('type', 'value'))


def table(columns, rows, title=None):
    """An aligned text table.

    :param columns: list of ``(key, heading)`` pairs.
    :param rows: list of dicts (read by key) or sequences (by position).
    :param title: optional line printed above the table.
    :returns: the table as one string without a trailing newline.
    """
    headings = [heading for _key, heading in columns]
    body = []
    for row in rows:
        if isinstance(row, dict):
            body.append([cell(row.get(key)) for key, _heading in columns])
        else:
            body.append([cell(value) for value in row])
    widths = [len(h) for h in headings]
    for line in body:
        for index, text in enumerate(line):
            widths[index] = max(widths[index], _width(text))
    lines = []
    if title:
        lines.append(title)
    lines.append(_line(headings, widths))
    lines.append(_line(['-' * w for w in widths], widths))
    for line in body:
        lines.append(_line(line, widths))
    if not body:
        lines.append('(none)')
    return '\n'.join(lines)


def _width(text):
    return max(len(part) for part in text.split('\n'))


def _line(cells, widths):
    return '  '.join(text.ljust(width) for text, width in
                     zip(cells, widths)).rstrip()


def key_values(pairs, title=None):
    """"key: value" lines with the keys aligned.

    :param pairs: list of ``(label, value)``.
    """
    width = max((len(label) for label, _value in pairs), default=0)
    lines = [title] if title else []
    lines.extend('%s  %s' % ((label + ':').ljust(width + 1), cell(value))
                 for label, value in pairs)
    return '\n'.join(lines)


def jsonable(value):
    """``value`` with MoRefs as their value string, sets as sorted lists."""
    if _is_moref(value):
        return value[1]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, set):
        return [jsonable(item) for item in sorted(value)]
    return value


def dumps(value):
    """Stable, indented JSON of ``value`` (see :func:`jsonable`)."""
    return json.dumps(jsonable(value), indent=2, sort_keys=True, default=str)

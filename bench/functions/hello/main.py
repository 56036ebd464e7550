"""The smallest Cloud Functions style function: measures the platform, not the code."""


def hello(request):
    return "ok"

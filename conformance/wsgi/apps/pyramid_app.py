"""A Pyramid application with routing, JSON rendering and a POST."""
from pyramid.config import Configurator
from pyramid.response import Response


def hello(request):
    return Response(f"Hello {request.matchdict['name']} from Pyramid", content_type="text/plain")


def total(request):
    numbers = request.json_body["numbers"]
    return {"total": sum(numbers), "script_name": request.script_name, "path_info": request.path_info}


with Configurator() as config:
    config.add_route("hello", "/hello/{name}")
    config.add_view(hello, route_name="hello")
    config.add_route("total", "/total")
    config.add_view(total, route_name="total", renderer="json", request_method="POST")
    app = config.make_wsgi_app()

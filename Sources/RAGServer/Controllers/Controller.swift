internal import Hummingbird

/// One area of the API: its routes and their handlers, added to the router as a collection.
protocol Controller {
    func register(_ routes: RouteCollection<APIRequestContext>)
}

extension Controller {
    var endpoints: RouteCollection<APIRequestContext> {
        let routes = RouteCollection(context: APIRequestContext.self)
        register(routes)
        return routes
    }
}

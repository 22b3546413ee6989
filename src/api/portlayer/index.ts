// The portlayer API as both sides see it: VIC's wire models and the routes the project uses.
// The server (src/vch/portlayer/) and the client (src/providers/vic/proxy/) import it; neither
// imports the other.
export * from './models.js';
export * from './routes.js';

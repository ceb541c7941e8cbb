-- The post page lists the short links made for the post when it was queued for publishing.
CREATE INDEX tracked_links_by_post ON tracked_links(post_id) WHERE post_id IS NOT NULL;

-- PostgreSQL only: a search looks for its newest matches among the recent tickets first
-- (`storage::search`). Ticket ids are minted at creation and search rows are appended as
-- tickets are, so a range of recent ids is a range of the table's pages: a BRIN index
-- (a few pages for a million tickets) turns it into a bitmap of those pages, intersected
-- with the word's matches from GIN before any heap page is read. Rows moved by later
-- updates only widen a page range's bounds, which costs reads, never results.
CREATE INDEX ticket_search_recent ON ticket_search USING brin (ticket_id)
    WITH (autosummarize = on);
